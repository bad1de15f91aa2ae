package ptlab.hw;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import ptlab.tools.MmuProbe;

/**
 * The walker's decisions against {@link SdmOracle}, enumerating flag combinations per mode
 * (SDM vol. 3, 4.3-4.8). Each dynamic test fixes the entries, the access and the privilege,
 * and runs every CPU configuration (WP, NXE, SMEP, SMAP x AC, PKE x PKRU AD/WD) inside.
 */
class SdmAccessRightsTest {

    static final PagingMode[] MODES = PagingMode.values();
    static final int LEAF_PKEY = 5;
    static final int PARENT_PKEY = 3;

    static long va(PagingMode m) {
        return switch (m) {
            case X86_32, X86_32_PAE -> 0xC765_4321L;
            case X86_64 -> 0x0000_7F12_3456_789AL;
            case X86_64_LA57 -> 0x00AB_CDEF_1234_5678L;
        };
    }

    static MmuProbe.Entry entry(boolean p, boolean rw, boolean us, boolean ps, boolean nx, int pkey, List<Integer> rsvd) {
        return new MmuProbe.Entry(p, rw, us, false, false, ps, nx, pkey, false, false, false, rsvd);
    }

    static MmuProbe.Entry table() {
        return entry(true, true, true, false, false, 0, List.of());
    }

    static MmuProbe.Entry pdpte() {
        return entry(true, false, false, false, false, 0, List.of());
    }

    enum Priv { USER, SUPERVISOR, IMPLICIT }

    static String flags(boolean rw, boolean us, boolean nx, boolean hasNx) {
        return "rw=" + (rw ? 1 : 0) + " us=" + (us ? 1 : 0) + (hasNx ? " nx=" + (nx ? 1 : 0) : "");
    }

    static String compare(MmuProbe.Request req) {
        SdmOracle.Expect x = SdmOracle.expect(req);
        MmuProbe.Result r = MmuProbe.run(req);
        StringBuilder bad = new StringBuilder();
        if (x.fault() != r.fault()) bad.append(" fault exp=").append(x.fault()).append(" got=").append(r.fault());
        if (x.fault() && r.fault()) {
            if (x.gp() != r.gpAtCr3Load()) bad.append(" gpAtCr3Load exp=").append(x.gp());
            if (!x.gp() && x.errorCode() != r.errorCode()) {
                bad.append(String.format(" error_code exp=0x%x got=0x%x", x.errorCode(), r.errorCode()));
            }
        }
        if (!x.fault() && !r.fault()) {
            if (x.pa() != r.pa()) bad.append(String.format(" pa exp=0x%x got=0x%x", x.pa(), r.pa()));
            if (x.pageSize() != r.pageSize()) bad.append(" page_size exp=").append(x.pageSize()).append(" got=").append(r.pageSize());
        }
        if (!Arrays.equals(x.a(), r.accessed())) {
            bad.append(" a exp=").append(Arrays.toString(x.a())).append(" got=").append(Arrays.toString(r.accessed()));
        }
        if (x.d() != r.dirty()) bad.append(" d exp=").append(x.d()).append(" got=").append(r.dirty());
        return bad.length() == 0 ? null : bad.toString();
    }

    static String cpuName(MmuProbe.Cpu c) {
        return String.format("wp=%d nxe=%d smep=%d smap=%d ac=%d pke=%d pkru=0x%x",
                c.wp() ? 1 : 0, c.nxe() ? 1 : 0, c.smep() ? 1 : 0, c.smap() ? 1 : 0, c.ac() ? 1 : 0,
                c.pke() ? 1 : 0, c.pkru());
    }

    /** Every CPU configuration the mode distinguishes. */
    static List<MmuProbe.Cpu> cpus(PagingMode m) {
        List<MmuProbe.Cpu> out = new ArrayList<>();
        boolean longMode = m.isLongMode();
        for (int bits = 0; bits < 32; bits++) {
            boolean wp = (bits & 1) != 0, nxe = (bits & 2) != 0, smep = (bits & 4) != 0,
                    smap = (bits & 8) != 0, ac = (bits & 16) != 0;
            if (nxe && !m.hasNx()) continue;
            out.add(new MmuProbe.Cpu(wp, nxe, smep, smap, ac, false, 0, false, null));
            if (longMode) {
                for (int adwd = 0; adwd < 4; adwd++) {
                    // every other key fully disabled, so using the wrong key shows
                    int pkru = 0xFFFF_FFFF & ~(3 << (2 * LEAF_PKEY)) | (adwd << (2 * LEAF_PKEY));
                    out.add(new MmuProbe.Cpu(wp, nxe, smep, smap, ac, true, pkru, false, null));
                }
            }
        }
        return out;
    }

    static final int[] CASES = new int[PagingMode.values().length];

    /** Path of a 4K / large leaf at leafLevel with the entry above it ("parent") varied. */
    static List<MmuProbe.Entry> path(PagingMode m, int leafLevel, MmuProbe.Entry parent, MmuProbe.Entry leaf) {
        List<MmuProbe.Entry> p = new ArrayList<>();
        for (int level = m.levels(); level > leafLevel; level--) {
            if (m.isPae() && level == 3) p.add(pdpte());
            else if (level == leafLevel + 1) p.add(parent);
            else p.add(table());
        }
        p.add(leaf);
        return p;
    }

    @TestFactory
    Stream<DynamicTest> accessRights() {
        List<DynamicTest> tests = new ArrayList<>();
        for (PagingMode m : MODES) {
            int[] leafLevels = m.isLongMode() ? new int[] {1, 2, 3} : new int[] {1, 2};
            List<MmuProbe.Cpu> cpus = cpus(m);
            for (int leafLevel : leafLevels) {
                boolean parentHasRights = !(m.isPae() && leafLevel == 2);
                int flagBits = m.hasNx() ? 3 : 2;
                int parentCombos = parentHasRights ? 1 << flagBits : 1;
                for (int lf = 0; lf < 1 << flagBits; lf++) {
                    for (int pf = 0; pf < parentCombos; pf++) {
                        boolean lrw = (lf & 1) != 0, lus = (lf & 2) != 0, lnx = (lf & 4) != 0;
                        boolean prw = parentHasRights ? (pf & 1) != 0 : true;
                        boolean pus = parentHasRights ? (pf & 2) != 0 : true;
                        boolean pnx = (pf & 4) != 0;
                        MmuProbe.Entry leaf = entry(true, lrw, lus, leafLevel > 1, lnx,
                                m.isLongMode() ? LEAF_PKEY : 0, List.of());
                        MmuProbe.Entry parent = parentHasRights
                                ? entry(true, prw, pus, false, pnx, m.isLongMode() ? PARENT_PKEY : 0, List.of())
                                : pdpte();
                        List<MmuProbe.Entry> path = path(m, leafLevel, parent, leaf);
                        String size = leafLevel == 1 ? "4K" : MmuCommandSizes.name(m.entrySpan(leafLevel));
                        for (AccessType acc : AccessType.values()) {
                            for (Priv priv : Priv.values()) {
                                if (priv == Priv.IMPLICIT && acc == AccessType.FETCH) continue;
                                String name = String.format("%s %s leaf[%s] parent[%s] %s %s", m, size,
                                        flags(lrw, lus, lnx, m.hasNx()),
                                        parentHasRights ? flags(prw, pus, pnx, m.hasNx()) : "PDPTE",
                                        acc.name().toLowerCase(), priv.name().toLowerCase());
                                int mi = m.ordinal();
                                tests.add(DynamicTest.dynamicTest(name, () -> {
                                    List<String> bad = new ArrayList<>();
                                    for (MmuProbe.Cpu cpu : cpus) {
                                        MmuProbe.Request req = new MmuProbe.Request(m, cpu, va(m), acc,
                                                priv == Priv.USER, priv == Priv.IMPLICIT, path);
                                        String diff = compare(req);
                                        CASES[mi]++;
                                        if (diff != null) bad.add(cpuName(cpu) + ":" + diff);
                                    }
                                    assertTrue(bad.isEmpty(), () -> bad.size() + " mismatches:\n  " + String.join("\n  ", bad));
                                }));
                            }
                        }
                    }
                }
            }
        }
        return tests.stream();
    }

    /** P=0 at each level, with and without junk in the not-present entry (ignored bits). */
    @TestFactory
    Stream<DynamicTest> notPresentAtEachLevel() {
        List<DynamicTest> tests = new ArrayList<>();
        for (PagingMode m : MODES) {
            for (int depth = 0; depth < m.levels(); depth++) {
                int level = m.levels() - depth;
                for (AccessType acc : AccessType.values()) {
                    for (Priv priv : Priv.values()) {
                        if (priv == Priv.IMPLICIT && acc == AccessType.FETCH) continue;
                        for (boolean junk : new boolean[] {false, true}) {
                            List<MmuProbe.Entry> path = new ArrayList<>();
                            for (int l = m.levels(); l > level; l--) path.add(m.isPae() && l == 3 ? pdpte() : table());
                            // a not-present entry's other bits are ignored (4.3-4.5): no RSVD
                            path.add(new MmuProbe.Entry(false, junk, junk, junk, junk, false, false, 0, false, false,
                                    false, List.of()));
                            String name = String.format("%s P=0 in %s%s %s %s", m, m.hardwareName(level),
                                    junk ? " (other bits set)" : "", acc.name().toLowerCase(), priv.name().toLowerCase());
                            tests.add(DynamicTest.dynamicTest(name, () -> {
                                for (MmuProbe.Cpu cpu : cpus(m)) {
                                    MmuProbe.Request req = new MmuProbe.Request(m, cpu, va(m), acc,
                                            priv == Priv.USER, priv == Priv.IMPLICIT, path);
                                    String diff = compare(req);
                                    assertEquals(null, diff, cpuName(cpu));
                                    MmuProbe.Result r = MmuProbe.run(req);
                                    assertEquals(0, r.errorCode() & SdmOracle.P, "P bit of error code");
                                }
                            }));
                        }
                    }
                }
            }
        }
        return tests.stream();
    }

    record Shape(String name, int level, boolean large) {
    }

    static List<Shape> shapes(PagingMode m) {
        List<Shape> s = new ArrayList<>();
        for (int l = m.levels(); l >= 1; l--) {
            s.add(new Shape(m.hardwareName(l), l, false));
            if (l > 1 && m.largePageAllowed(l)) s.add(new Shape(m.hardwareName(l) + "(PS=1)", l, true));
        }
        return s;
    }

    /** Reserved bits at each level: every bit the SDM reserves, one at a time, under several MAXPHYADDRs. */
    @TestFactory
    Stream<DynamicTest> reservedBitsAtEachLevel() {
        List<DynamicTest> tests = new ArrayList<>();
        for (PagingMode m : MODES) {
            int[] maxPhys = switch (m) {
                case X86_32 -> new int[] {32, 36, 40};
                case X86_32_PAE -> new int[] {36, 40, 52};
                default -> new int[] {39, 46, 52};
            };
            for (int maxPhy : maxPhys) {
                for (boolean nxe : m.hasNx() ? new boolean[] {false, true} : new boolean[] {false}) {
                    for (Shape s : shapes(m)) {
                        long rsvd = SdmOracle.reserved(m, s.level(), s.large(), maxPhy, nxe);
                        for (int bit = 0; bit < 64; bit++) {
                            if ((rsvd & (1L << bit)) == 0) continue;
                            int b = bit;
                            for (AccessType acc : AccessType.values()) {
                                String name = String.format("%s M=%d nxe=%d %s bit %d %s", m, maxPhy, nxe ? 1 : 0,
                                        s.name(), b, acc.name().toLowerCase());
                                tests.add(DynamicTest.dynamicTest(name, () -> {
                                    List<MmuProbe.Entry> path = new ArrayList<>();
                                    for (int l = m.levels(); l > s.level(); l--) {
                                        path.add(m.isPae() && l == 3 ? pdpte() : table());
                                    }
                                    boolean isPdpte = m.isPae() && s.level() == 3;
                                    // NX and PS are expressed through their own fields
                                    boolean nx = b == 63 && !isPdpte;
                                    boolean psBit = b == 7 && !isPdpte && s.level() >= 4;
                                    List<Integer> rs = nx || psBit ? List.of() : List.of(b);
                                    MmuProbe.Entry e = isPdpte ? new MmuProbe.Entry(true, false, false, false, false,
                                            false, false, 0, false, false, false, List.of(b))
                                            : entry(true, true, true, s.large() || psBit, nx, 0, rs);
                                    path.add(e);
                                    for (int l = s.level() - 1; l >= 1 && !s.large() && !psBit; l--) path.add(table());
                                    for (boolean user : new boolean[] {false, true}) {
                                        MmuProbe.Cpu cpu = new MmuProbe.Cpu(true, nxe, false, false, false, false, 0,
                                                false, maxPhy);
                                        MmuProbe.Request req = new MmuProbe.Request(m, cpu, va(m), acc, user, false, path);
                                        assertEquals(null, compare(req), "user=" + user);
                                        SdmOracle.Expect x = SdmOracle.expect(req);
                                        assertTrue(x.fault());
                                        if (!x.gp()) assertEquals(SdmOracle.P | SdmOracle.RSVD,
                                                x.errorCode() & (SdmOracle.P | SdmOracle.RSVD));
                                    }
                                }));
                            }
                        }
                    }
                }
            }
        }
        return tests.stream();
    }

    /** The probe refuses bits the mode does not reserve (e.g. address bits, ignored bits). */
    @Test
    void probeRefusesUnreservedBits() {
        MmuProbe.Cpu cpu = new MmuProbe.Cpu(true, true, false, false, false, false, 0, false, null);
        for (PagingMode m : MODES) {
            for (Shape s : shapes(m)) {
                long rsvd = SdmOracle.reserved(m, s.level(), s.large(), SdmOracle.defaultMaxPhy(m), true);
                int width = m.entryBytes() * 8;
                for (int bit = 0; bit < width; bit++) {
                    if ((rsvd & (1L << bit)) != 0 || bit == 63 || bit == 7) continue;
                    List<MmuProbe.Entry> path = new ArrayList<>();
                    for (int l = m.levels(); l > s.level(); l--) path.add(m.isPae() && l == 3 ? pdpte() : table());
                    path.add(entry(true, true, true, s.large(), false, 0, List.of(bit)));
                    for (int l = s.level() - 1; l >= 1 && !s.large(); l--) path.add(table());
                    MmuProbe.Request req = new MmuProbe.Request(m, cpu, va(m), AccessType.READ, false, false, path);
                    int b = bit;
                    assertThrows(MmuProbe.BadRequest.class, () -> MmuProbe.run(req), () -> m + " " + s.name() + " bit " + b);
                }
            }
        }
    }

    /** PSE-36: a 4 MiB page above 4 GiB (PDE bits 20:13 = PA 39:32), driven on the walker directly. */
    @Test
    void pse36LargePageAbove4G() {
        PhysicalMemory mem = new PhysicalMemory(1L << 36);
        CpuRegisters regs = new CpuRegisters(PagingMode.X86_32, 36);
        regs.setCr3(0x1000);
        long va = 0x8012_3456L;
        long pa4m = 0xA_0040_0000L;   // PA bits 35:32 = 0xA
        long pde = (pa4m & 0xFFC0_0000L) | (0xAL << 13) | 0x87;   // P RW US PS
        mem.storeInt(0x1000 + 4 * (va >>> 22), (int) pde);
        PageWalker w = new PageWalker(mem);
        WalkResult out = new WalkResult();
        assertTrue(w.translate(regs, va, AccessType.READ, true, false, out));
        assertEquals(pa4m | (va & 0x3F_FFFF), out.pa);
        assertEquals(4L << 20, out.pageSize());
        // the same PDE with CR4.PSE=0: PS is ignored and the PDE points at a page table
        CpuRegisters nopse = new CpuRegisters(PagingMode.X86_32, 36);
        nopse.setPse(false);
        nopse.setCr3(0x1000);
        PhysicalMemory mem2 = new PhysicalMemory(1L << 32);
        mem2.storeInt(0x1000 + 4 * (va >>> 22), (int) (0x2000 | 0x87));  // PS ignored with CR4.PSE=0
        mem2.storeInt(0x2000 + 4 * ((va >>> 12) & 0x3FF), 0x0030_0007);
        assertTrue(w.memory() != mem2);
        PageWalker w2 = new PageWalker(mem2);
        assertTrue(w2.translate(nopse, va, AccessType.READ, true, false, out));
        assertEquals(0x0030_0000L | (va & 0xFFF), out.pa);
        assertEquals(4096, out.pageSize());
    }

    /** PAE: a present PDPTE with a reserved bit makes the CR3 load #GP; a not-present one does not. */
    @Test
    void paePdpteReservedBitsAtCr3Load() {
        long rsvd = SdmOracle.reserved(PagingMode.X86_32_PAE, 3, false, 36, true);
        for (int bit = 0; bit < 64; bit++) {
            if ((rsvd & (1L << bit)) == 0) continue;
            PhysicalMemory mem = new PhysicalMemory(1 << 24);
            CpuRegisters regs = new CpuRegisters(PagingMode.X86_32_PAE, 36);
            regs.setCr3(0x1020);
            mem.storeLong(0x1020 + 16, 0x5000 | 1 | (1L << bit));
            assertFalse(new PageWalker(mem).loadPdptes(regs), "bit " + bit);
            mem.storeLong(0x1020 + 16, 0x5000 | (1L << bit));   // P=0: not checked
            assertTrue(new PageWalker(mem).loadPdptes(regs), "bit " + bit + " with P=0");
        }
    }

    /** 4.5: a non-canonical address faults with #GP before any walk, setting no A bit. */
    @Test
    void nonCanonicalAddressIsGp() {
        for (PagingMode m : new PagingMode[] {PagingMode.X86_64, PagingMode.X86_64_LA57}) {
            long va = 1L << (m.vaBits() - 1);   // first non-canonical address of the lower half
            PhysicalMemory mem = new PhysicalMemory(1 << 24);
            CpuRegisters regs = new CpuRegisters(m);
            regs.setCr3(0x1000);
            WalkResult out = new WalkResult();
            assertFalse(new PageWalker(mem).translate(regs, va, AccessType.READ, false, false, out));
            assertEquals(WalkResult.EXC_GP, out.exception);
            assertEquals(0, out.memoryRefs);
        }
    }

    /** Bit 7 of a 4 KiB PTE is PAT, not PS: the walk still maps a 4 KiB page (4.3-4.5). */
    @TestFactory
    Stream<DynamicTest> patBitInPteIsNotPageSize() {
        List<DynamicTest> tests = new ArrayList<>();
        for (PagingMode m : MODES) {
            tests.add(DynamicTest.dynamicTest(m + " PTE with bit 7 (PAT)", () -> {
                List<MmuProbe.Entry> path = path(m, 1, table(), entry(true, true, true, true, false, 0, List.of()));
                for (MmuProbe.Cpu cpu : cpus(m)) {
                    for (AccessType acc : AccessType.values()) {
                        MmuProbe.Request req = new MmuProbe.Request(m, cpu, va(m), acc, true, false, path);
                        assertEquals(null, compare(req), cpuName(cpu) + " " + acc);
                    }
                }
                MmuProbe.Result r = MmuProbe.run(new MmuProbe.Request(m, cpus(m).get(0), va(m), AccessType.READ,
                        true, false, path));
                assertEquals(4096, r.pageSize());
            }));
        }
        return tests.stream();
    }

    @org.junit.jupiter.api.AfterAll
    static void report() {
        for (PagingMode m : MODES) {
            System.out.println("SdmAccessRightsTest: " + m + " access-rights cases: " + CASES[m.ordinal()]);
        }
    }

    /** Tiny local helper so the test does not depend on the CLI package. */
    static final class MmuCommandSizes {
        static String name(long bytes) {
            if (bytes >= 1L << 30) return (bytes >> 30) + "G";
            return (bytes >> 20) + "M";
        }
    }
}
