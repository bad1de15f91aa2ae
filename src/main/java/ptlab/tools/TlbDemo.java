package ptlab.tools;

import java.util.ArrayList;
import java.util.List;

import ptlab.hw.AccessType;
import ptlab.hw.CpuRegisters;
import ptlab.hw.Mmu;
import ptlab.hw.PagingMode;
import ptlab.hw.PhysicalMemory;
import ptlab.hw.PteBits;
import ptlab.hw.TlbConfig;
import ptlab.hw.WalkResult;

/**
 * The TLB part of {@code ptlab demo}: one CPU, one user page, four steps — a miss, a hit, a
 * stale hit after the kernel cleared the PTE without INVLPG, and the fault once INVLPG ran.
 * Tables are built at 0x1000, 0x2000, … as in {@link MmuProbe}; the page is at 0x4000_0000.
 */
public final class TlbDemo {

    /** One access: what happened, and the MMU counters after it. */
    public record Step(String what, boolean fault, int errorCode, long pa, long hits, long misses, long walkRefs) {
    }

    private TlbDemo() {
    }

    public static List<Step> run(PagingMode mode) {
        PhysicalMemory memory = new PhysicalMemory(0x8000_0000L);
        long va = mode.isLongMode() ? 0x7f00_0020_1abcL : 0x0804_9abcL;
        long pteAddress = buildPath(memory, mode, va);
        CpuRegisters regs = new CpuRegisters(mode);
        Mmu mmu = new Mmu(memory, regs, TlbConfig.DEFAULT);
        if (!mmu.writeCr3(MmuProbe.FIRST_TABLE)) {
            throw new IllegalStateException("CR3 load of the demo tables failed in " + mode);
        }
        List<Step> steps = new ArrayList<>();
        WalkResult out = new WalkResult();
        steps.add(read(mmu, va, out, "first read: TLB miss, walk"));
        steps.add(read(mmu, va, out, "second read: TLB hit"));
        memory.storeEntry(pteAddress, mode.entryBytes(), 0);
        steps.add(read(mmu, va, out, "PTE cleared, no INVLPG: stale hit"));
        mmu.invlpg(va);
        steps.add(read(mmu, va, out, "after INVLPG: walk finds P=0"));
        return steps;
    }

    private static Step read(Mmu mmu, long va, WalkResult out, String what) {
        boolean ok = mmu.translate(va, AccessType.READ, true, false, out);
        return new Step(what, !ok, out.errorCode, ok ? out.pa : 0, mmu.hits(), mmu.misses(), mmu.walkMemoryRefs());
    }

    /** One user read-write path from the top level to a 4 KiB PTE; returns the PTE's address. */
    private static long buildPath(PhysicalMemory memory, PagingMode mode, long va) {
        long table = MmuProbe.FIRST_TABLE;
        for (int level = mode.levels(); level >= 1; level--) {
            long next = table + PhysicalMemory.PAGE_SIZE;
            long target = level == 1 ? MmuProbe.PAGE_FRAME : next;
            long flags = mode.isPae() && level == 3 ? PteBits.P : PteBits.P | PteBits.RW | PteBits.US;
            long entry = table + (long) mode.index(va, level) * mode.entryBytes();
            memory.storeEntry(entry, mode.entryBytes(), target | flags);
            if (level == 1) {
                return entry;
            }
            table = next;
        }
        throw new AssertionError("unreachable");
    }
}
