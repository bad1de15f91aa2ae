package ptlab.hw;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;

/** Properties of the walker over random page-table trees (SDM vol. 3, 4.6-4.8, 4.10.4.1 folding). */
class WalkerPropertiesTest {

    static final long FRAME = 0x4000_0000L;
    static final long RWUS = PteBits.P | PteBits.RW | PteBits.US;

    /** A page-table tree in real memory, tables handed out from 0x10000 upwards. */
    static final class Tree {
        final PagingMode m;
        final PhysicalMemory mem = new PhysicalMemory(1L << 33);
        final CpuRegisters regs;
        final PageWalker walker;
        long next = 0x10000;
        /** every entry written, for before/after comparison. */
        final List<Long> entries = new ArrayList<>();

        Tree(PagingMode m) {
            this.m = m;
            this.regs = new CpuRegisters(m);
            regs.setCr3(m.isPae() ? 0x1000 : alloc());
            walker = new PageWalker(mem);
        }

        long alloc() {
            long t = next;
            next += 0x1000;
            return t;
        }

        long load(long pa) {
            return mem.loadEntry(pa, m.entryBytes());
        }

        /**
         * Maps {@code va} with a leaf at {@code leafLevel}; {@code upper} are the flags of
         * table entries created on the way (existing ones are shared), {@code leaf} the leaf's.
         */
        void map(long va, int leafLevel, long upper, long leaf, long frame) {
            long table = m.isPae() ? 0x1000 : regs.topTableAddress();
            for (int level = m.levels(); level > leafLevel; level--) {
                long ea = table + (long) m.index(va, level) * m.entryBytes();
                long e = load(ea);
                if (!PteBits.present(e)) {
                    long t = alloc();
                    e = t | (m.isPae() && level == 3 ? PteBits.P : upper | PteBits.P);
                    mem.storeEntry(ea, m.entryBytes(), e);
                    entries.add(ea);
                }
                table = m == PagingMode.X86_32 ? e & 0xFFFF_F000L : e & Pte64.addressMask(m.defaultMaxPhyAddr(), 12);
            }
            long ea = table + (long) m.index(va, leafLevel) * m.entryBytes();
            long v = leaf | (leafLevel > 1 ? PteBits.PS : 0)
                    | (m == PagingMode.X86_32 && leafLevel == 2 ? Pte32.encodeLargeAddress(frame) : frame);
            mem.storeEntry(ea, m.entryBytes(), v);
            if (!entries.contains(ea)) entries.add(ea);
            if (m.isPae()) assertTrue(walker.loadPdptes(regs));
        }

        Map<Long, Long> snapshot() {
            Map<Long, Long> s = new HashMap<>();
            for (long ea : entries) s.put(ea, load(ea));
            return s;
        }
    }

    static long randomVa(PagingMode m, Random r) {
        long va = r.nextLong() & ((1L << m.vaBits()) - 1) & ~0xFFFL;
        if (m.isLongMode()) va &= (1L << (m.vaBits() - 1)) - 1;   // lower half, canonical
        return va | (r.nextInt(4096) & ~7);
    }

    static long randomFlags(PagingMode m, Random r, double pOn) {
        long f = 0;
        if (r.nextDouble() < 0.9) f |= PteBits.P;
        if (r.nextDouble() < pOn) f |= PteBits.RW;
        if (r.nextDouble() < pOn) f |= PteBits.US;
        if (r.nextDouble() < 0.3) f |= PteBits.A;
        if (r.nextDouble() < 0.3) f |= PteBits.D;
        if (m.hasNx() && r.nextDouble() < 0.3) f |= Pte64.NX;
        if (m.isLongMode()) f = Pte64.withPkey(f, r.nextInt(3));
        return f;
    }

    @Provide
    Arbitrary<PagingMode> modes() {
        return Arbitraries.of(PagingMode.values());
    }

    /** 4.8: the walker only ever sets A and D (never clears, never touches other bits); a fault changes nothing. */
    @Property(tries = 150)
    void accessedAndDirtyOnlyRise(@ForAll("modes") PagingMode m, @ForAll long seed) {
        Random r = new Random(seed);
        Tree t = new Tree(m);
        List<Long> vas = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            long va = randomVa(m, r);
            int leafLevel = 1 + r.nextInt(m.isLongMode() ? 3 : 2);
            long frame = FRAME & -(m.entrySpan(leafLevel));
            t.map(va, leafLevel, randomFlags(m, r, 0.8), randomFlags(m, r, 0.6), frame);
            vas.add(va);
        }
        WalkResult out = new WalkResult();
        for (int step = 0; step < 40; step++) {
            t.regs.setWp(r.nextBoolean());
            t.regs.setSmep(r.nextBoolean());
            t.regs.setSmap(r.nextBoolean());
            t.regs.setAc(r.nextBoolean());
            t.regs.setPke(r.nextBoolean());
            t.regs.setPkru(r.nextInt());
            long va = vas.get(r.nextInt(vas.size()));
            AccessType acc = AccessType.values()[r.nextInt(3)];
            boolean user = r.nextBoolean();
            boolean implicit = acc != AccessType.FETCH && r.nextInt(4) == 0;
            Map<Long, Long> before = t.snapshot();
            boolean ok = t.walker.translate(t.regs, va, acc, user, implicit, out);
            Map<Long, Long> after = t.snapshot();
            for (long ea : t.entries) {
                long b = before.get(ea), a = after.get(ea);
                assertEquals(0, b & ~a, () -> String.format("bit cleared in entry at 0x%x", ea));
                assertEquals(0, (a ^ b) & ~(PteBits.A | PteBits.D), () -> String.format("non-A/D bit changed at 0x%x", ea));
                if (!ok) assertEquals(b, a, () -> String.format("faulting %s access changed entry at 0x%x", acc, ea));
            }
            if (ok) {
                long leaf = t.load(out.leafEntryAddress);
                assertTrue(PteBits.accessed(leaf));
                if (acc == AccessType.WRITE) assertTrue(PteBits.dirty(leaf));
                else assertEquals(before.get(out.leafEntryAddress) & PteBits.D, leaf & PteBits.D);
            }
        }
    }

    record Outcome(boolean ok, int errorCode, long pa, long pageSize, long leafAd) {
    }

    static Outcome run(PagingMode m, long va, int leafLevel, long upper, long leaf, boolean[] cpu, AccessType acc,
                       boolean user, boolean implicit) {
        Tree t = new Tree(m);
        t.regs.setWp(cpu[0]);
        t.regs.setSmep(cpu[1]);
        t.regs.setSmap(cpu[2]);
        t.regs.setAc(cpu[3]);
        t.regs.setNxe(cpu[4]);
        long frame = 0x3FC0_0000L & -(m.entrySpan(leafLevel));
        t.map(va, leafLevel, upper, leaf, frame);
        WalkResult out = new WalkResult();
        boolean ok = t.walker.translate(t.regs, va, acc, user, implicit, out);
        long ad = 0;
        for (long ea : t.entries) ad = ad * 4 + ((t.load(ea) >> 5) & 3);
        long leafAd = (t.load(t.entries.get(t.entries.size() - 1)) >> 5) & 3;
        return new Outcome(ok, ok ? 0 : out.errorCode & ~PageFaultError.ID, ok ? out.pa : 0,
                ok ? out.pageSize() : 0, leafAd);
    }

    /**
     * Folding: one mapping (VA below 4 GiB -> PA, R/W, U/S, no NX) gives the same translation in
     * every mode that can express it: 4 KiB pages in all four modes; 2 MiB pages in PAE, 4- and
     * 5-level paging. Error codes are compared without I/D (which depends on the mode and NXE).
     */
    @Property(tries = 400)
    void sameMappingSameResultInEveryMode(@ForAll long seed, @ForAll boolean twoMeg) {
        Random r = new Random(seed);
        long va = r.nextLong() & 0xFFFF_FFF8L;
        long mask = PteBits.P | PteBits.RW | PteBits.US | PteBits.A | PteBits.D;
        // upper entries permissive for 2 MiB: a PAE 2 MiB PDE has only the rightless PDPTE above it
        long upper = twoMeg ? RWUS : (randomFlags(PagingMode.X86_32, r, 0.7) | PteBits.P) & mask;
        long leaf = randomFlags(PagingMode.X86_32, r, 0.6) & mask;
        boolean[] cpu = {r.nextBoolean(), r.nextBoolean(), r.nextBoolean(), r.nextBoolean(), r.nextBoolean()};
        AccessType acc = AccessType.values()[r.nextInt(3)];
        boolean user = r.nextBoolean();
        boolean implicit = acc != AccessType.FETCH && r.nextInt(4) == 0;
        PagingMode[] modes = twoMeg
                ? new PagingMode[] {PagingMode.X86_32_PAE, PagingMode.X86_64, PagingMode.X86_64_LA57}
                : PagingMode.values();
        int leafLevel = twoMeg ? 2 : 1;
        Outcome first = null;
        for (PagingMode m : modes) {
            Outcome o = run(m, va, leafLevel, upper, leaf, cpu, acc, user, implicit);
            if (first == null) first = o;
            else assertEquals(first, o, m + " differs from " + modes[0]);
        }
    }

    /** A value for the hook to write into an entry just before the walker's CAS on it. */
    static final class ChangeBeforeCas implements PhysicalMemory.AccessHook {
        final PhysicalMemory mem;
        final long target;
        final long newValue;
        boolean fired;
        boolean inside;

        ChangeBeforeCas(PhysicalMemory mem, long target, long newValue) {
            this.mem = mem;
            this.target = target;
            this.newValue = newValue;
        }

        @Override
        public void beforeAccess(int op, long pa) {
            if (inside || fired || op != PhysicalMemory.OP_CAS || pa != target) return;
            inside = true;
            mem.storeLong(target, newValue);
            inside = false;
            fired = true;
        }
    }

    static long leafAddress(Tree t, long va) {
        WalkResult probe = new WalkResult();
        // find the PTE address by a walk on a copy of the registers that does not touch memory: read it by hand
        long table = t.regs.topTableAddress();
        for (int level = 4; level > 1; level--) {
            long e = t.load(table + 8L * t.m.index(va, level));
            table = e & Pte64.addressMask(46, 12);
        }
        assertFalse(probe.faulted());
        return table + 8L * t.m.index(va, 1);
    }

    /** An entry that changes between the walker's read and its A/D compare-and-swap: the walk restarts and uses the new entry. */
    @Property(tries = 60)
    void concurrentChangeRestartsTheWalk(@ForAll @IntRange(min = 0, max = 2) int what, @ForAll boolean write) {
        Tree t = new Tree(PagingMode.X86_64);
        long va = 0x7f00_1234_5000L | 0x678;
        t.map(va, 1, RWUS, RWUS, 0x5000_0000L);
        long pte = leafAddress(t, va);
        long newValue = switch (what) {
            case 0 -> 0x6000_0000L | RWUS;                       // remapped elsewhere
            case 1 -> 0;                                         // unmapped
            default -> 0x5000_0000L | PteBits.P | PteBits.US;   // made read-only
        };
        ChangeBeforeCas hook = new ChangeBeforeCas(t.mem, pte, newValue);
        t.mem.setAccessHook(hook);
        WalkResult out = new WalkResult();
        AccessType acc = write ? AccessType.WRITE : AccessType.READ;
        boolean ok = t.walker.translate(t.regs, va, acc, true, false, out);
        t.mem.setAccessHook(null);
        assertTrue(hook.fired);
        assertTrue(out.restarts >= 1, "walk restarted");
        long after = t.load(pte);
        int wr = write ? PageFaultError.WR : 0;
        switch (what) {
            case 0 -> {
                assertTrue(ok);
                assertEquals(0x6000_0678L, out.pa);
                assertEquals(newValue | PteBits.A | (write ? PteBits.D : 0), after);
            }
            case 1 -> {
                assertFalse(ok);
                assertEquals(PageFaultError.US | wr, out.errorCode);
                assertEquals(0, after);
            }
            default -> {
                if (write) {
                    assertFalse(ok);
                    assertEquals(PageFaultError.P | PageFaultError.US | wr, out.errorCode);
                    assertEquals(newValue, after, "faulting write sets neither A nor D");
                } else {
                    assertTrue(ok);
                    assertEquals(0x5000_0678L, out.pa);
                    assertEquals(newValue | PteBits.A, after);
                }
            }
        }
    }

    /** A parent entry changed between read and CAS: its new R/W=0 applies after the restart. */
    @Example
    void parentChangedBeforeItsCas() {
        Tree t = new Tree(PagingMode.X86_64);
        long va = 0x4000_0000_1000L;
        t.map(va, 1, RWUS, RWUS, 0x5000_0000L);
        long pml4e = t.regs.topTableAddress() + 8L * t.m.index(va, 4);
        long old = t.load(pml4e);
        ChangeBeforeCas hook = new ChangeBeforeCas(t.mem, pml4e, old & ~PteBits.RW);
        t.mem.setAccessHook(hook);
        WalkResult out = new WalkResult();
        assertFalse(t.walker.translate(t.regs, va, AccessType.WRITE, true, false, out));
        assertTrue(hook.fired);
        assertTrue(out.restarts >= 1);
        assertEquals(PageFaultError.P | PageFaultError.WR | PageFaultError.US, out.errorCode);
        assertEquals(old & ~PteBits.RW, t.load(pml4e));
        long pte = leafAddress(t, va);
        assertEquals(0, t.load(pte) & (PteBits.A | PteBits.D));
    }
}
