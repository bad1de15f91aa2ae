package ptlab.check;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;

import ptlab.hw.PagingMode;
import ptlab.hw.PhysicalMemory;
import ptlab.hw.PteBits;
import ptlab.kernel.FrameAllocator;
import ptlab.kernel.FrameUse;
import ptlab.kernel.Kernel;
import ptlab.kernel.MmStruct;

/**
 * Invariant 6 at the end of a kernel-level schedule: the page-table pages and user pages the
 * scenario allocated (since boot: its setup and its run) and did not free are exactly what the
 * surviving mms still own (kernel objects — slab pages, a PAE pgd's slab — are not its subject). A
 * frame allocated since boot and still allocated at the end must be reachable from the page tables of init_mm or
 * of a live mm — a page-table page of it, a page one of its ptes maps, or the frame
 * holding its pgd; anything else was leaked (e.g. a table unlinked and never freed, or
 * installed under an unlinked parent, mail 004). Double frees stop the run where they happen
 * (the allocator's BadFree, a scenario's second free).
 *
 * <p>Runs when no CPU does; reads page tables with plain loads (no scheduling points).
 */
final class Leaks {

    private FrameAllocator.Snapshot baseline;
    private java.util.function.Supplier<long[]> extraRoots = () -> new long[0];

    void alsoOwning(java.util.function.Supplier<long[]> roots) {
        extraRoots = roots;
    }

    /**
     * The allocator's state the check compares with: right after boot (init_mm, the zero page),
     * so the scenario's setup is checked too — its processes own what it allocated.
     */
    void baseline(FrameAllocator.Snapshot since) {
        baseline = since;
    }

    /** Null, or a message listing (up to 8) leaked frames. */
    String check(Kernel k) {
        if (baseline == null) {
            return null;
        }
        long[] fresh = k.allocator().allocatedSince(baseline);
        if (fresh.length == 0) {
            return null;
        }
        BitSet owned = owned(k, extraRoots.get());
        List<String> leaked = new ArrayList<>();
        int count = 0;
        for (long f : fresh) {
            FrameUse use = k.allocator().useOf(f);
            if ((use == FrameUse.PAGE_TABLE || use == FrameUse.USER) && !owned.get((int) (f >>> PhysicalMemory.PAGE_SHIFT))) {
                count++;
                if (leaked.size() < 8) {
                    leaked.add(k.allocator().describe(f));
                }
            }
        }
        return count == 0 ? null : String.format("%d frame(s) allocated since boot are still allocated at the end of the schedule "
                + "but no mm owns them (leaked): %s", count, String.join("; ", leaked));
    }

    /**
     * Frames reachable from the page tables of init_mm and of every other live mm: every page-table page,
     * every frame a leaf maps outside the direct map (user pages, vmalloc and other kernel
     * mappings), and the frames holding the pgds. The direct map's leaves map all of RAM and
     * own nothing.
     */
    private static BitSet owned(Kernel k, long[] extraRoots) {
        BitSet owned = new BitSet();
        BitSet walked = new BitSet();
        List<MmStruct> mms = new ArrayList<>(k.arch().mmsQuiescent());
        mms.add(k.initMm());
        Walk w = new Walk(k.memory(), k.mode(), k.layout().pageOffset(),
                k.layout().pageOffset() + k.layout().directMapBytes(), owned, walked);
        for (MmStruct mm : mms) {
            long pgd = mm.pgd();
            if (pgd <= 0) {
                continue;
            }
            owned.set((int) (pgd >>> PhysicalMemory.PAGE_SHIFT));
            w.table(pgd, k.mode().levels(), 0);
            long userPgd = mm.userPgd();         // PAE with PTI: the user pgd and its preallocated pmds
            if (userPgd > 0) {
                owned.set((int) (userPgd >>> PhysicalMemory.PAGE_SHIFT));
                w.table(userPgd, k.mode().levels(), 0);
            }
        }
        long[] roots = java.util.Arrays.copyOf(extraRoots, extraRoots.length + k.cpuCount());
        for (int i = 0; i < k.cpuCount(); i++) {    // what a CPU's CR3 points to: a per-node replica's pgd, say
            roots[extraRoots.length + i] = k.cpu(i).mmu().registers().topTableAddress();
        }
        for (long top : roots) {
            if (top > 0 && top < k.memory().sizeBytes()) {
                owned.set((int) (top >>> PhysicalMemory.PAGE_SHIFT));
                w.table(top, k.mode().levels(), 0);
            }
        }
        return owned;
    }

    /** A walk over page tables marking what they own. */
    private record Walk(PhysicalMemory mem, PagingMode mode, long directStart, long directEnd, BitSet owned,
                        BitSet walked) {

        void table(long table, int level, long vaBase) {
            int pfn = (int) (table >>> PhysicalMemory.PAGE_SHIFT);
            if (level < mode.levels()) {          // the top table may be a 32-byte PAE pgd in a shared slab page
                if (walked.get(pfn)) {
                    return;                       // kernel tables are shared by every mm: walked once
                }
                walked.set(pfn);
            }
            owned.set(pfn);
            int eb = mode.entryBytes();
            long mask = eb == 8 ? 0x000F_FFFF_FFFF_F000L : 0xFFFF_F000L;
            for (int i = 0; i < mode.entries(level); i++) {
                long e = mem.loadEntry(table + (long) i * eb, eb);
                if ((e & PteBits.P) == 0) {
                    continue;
                }
                long va = vaBase | ((long) i << mode.shift(level));
                long next = e & mask;
                boolean leaf = level == 1 || (mode.largePageAllowed(level) && (e & PteBits.PS) != 0
                        && !(mode.isPae() && level == 3));
                if (leaf) {
                    leaf(canonical(va), next, level == 1 ? PhysicalMemory.PAGE_SIZE : mode.entrySpan(level));
                } else if (next < mem.sizeBytes()) {
                    table(next, level - 1, va);
                }
            }
        }

        private void leaf(long va, long pa, long span) {
            if (Long.compareUnsigned(va, directStart) >= 0 && Long.compareUnsigned(va, directEnd) < 0) {
                return;                           // the direct map: every frame of RAM, owned by no one
            }
            long first = (pa & ~(span - 1)) >>> PhysicalMemory.PAGE_SHIFT;
            long end = Math.min(first + (span >>> PhysicalMemory.PAGE_SHIFT), mem.sizeBytes() >>> PhysicalMemory.PAGE_SHIFT);
            if (first < end) {
                owned.set((int) first, (int) end);
            }
        }

        private long canonical(long va) {
            int bits = mode.vaBits();
            return mode.isLongMode() && ((va >>> (bits - 1)) & 1) != 0 ? va | -(1L << bits) : va;
        }
    }
}
