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
        BitSet subjects = new BitSet();          // what must be owned: fresh page-table pages and user pages
        for (long f : fresh) {
            FrameUse use = k.allocator().useOf(f);
            if (use == FrameUse.PAGE_TABLE || use == FrameUse.USER) {
                subjects.set((int) (f >>> PhysicalMemory.PAGE_SHIFT));
            }
        }
        if (subjects.isEmpty()) {
            return null;
        }
        BitSet owned = owned(k, extraRoots.get(), subjects);
        List<String> leaked = new ArrayList<>();
        int count = 0;
        for (int pfn = subjects.nextSetBit(0); pfn >= 0; pfn = subjects.nextSetBit(pfn + 1)) {
            if (!owned.get(pfn)) {
                count++;
                if (leaked.size() < 8) {
                    leaked.add(k.allocator().describe((long) pfn << PhysicalMemory.PAGE_SHIFT));
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
     * own nothing. The walk stops once every frame of {@code subjects} is found owned: only
     * theirs is asked, and user mms (walked first) own most of them.
     */
    private static BitSet owned(Kernel k, long[] extraRoots, BitSet subjects) {
        // init_mm comes last: the kernel entries every other pgd shares with it are walked there,
        // once, and only if the user mms did not already own every subject
        BitSet owned = new BitSet();
        BitSet walked = new BitSet();
        List<MmStruct> mms = new ArrayList<>(k.arch().mmsQuiescent());
        mms.add(k.initMm());
        Walk w = new Walk(k.memory(), k.mode(), k.layout().pageOffset(),
                k.layout().pageOffset() + k.layout().directMapBytes(), owned, walked,
                new long[k.mode().levels() + 1][], new long[mms.size() * 2 + k.cpuCount()
                        + extraRoots.length], new int[1], subjects, new int[] {subjects.cardinality()},
                k.initMm().pgd(), new long[PhysicalMemory.PAGE_SIZE / 8]);
        k.memory().peekFrame(k.initMm().pgd(), w.initWords());
        for (MmStruct mm : mms) {
            w.top(mm.pgd());
            w.top(mm.userPgd());                 // PAE with PTI: the user pgd and its preallocated pmds
        }
        for (long top : extraRoots) {
            w.top(top);
        }
        for (int i = 0; i < k.cpuCount(); i++) {    // what a CPU's CR3 points to: a per-node replica's pgd, say
            w.top(k.cpu(i).mmu().registers().topTableAddress());
        }
        return owned;
    }

    /**
     * A walk over page tables marking what they own. Each table is copied out as one frame
     * ({@code peekFrame}), not read entry by entry: this runs after every kernel-level schedule, and
     * the top tables alone are hundreds of entries per mm.
     */
    private static final int WORDS = PhysicalMemory.PAGE_SIZE / 8;
    /** A frame of zeros to compare tables with (never written). */
    private static final long[] ZERO_FRAME = new long[WORDS];

    private record Walk(PhysicalMemory mem, PagingMode mode, long directStart, long directEnd, BitSet owned,
                        BitSet walked, long[][] frameAt, long[] topsWalked, int[] tops, BitSet subjects,
                        int[] unowned, long initPgd, long[] initWords) {

        /**
         * A top table ({@code mm->pgd}, a CPU's CR3): walked once however many mms and CPUs
         * name it. Tops are remembered by address, not frame: PAE pgds are 32-byte objects
         * sharing a slab page.
         */
        void top(long pgd) {
            if (pgd <= 0 || pgd >= mem.sizeBytes() || unowned[0] == 0) {
                return;
            }
            for (int i = 0; i < tops[0]; i++) {
                if (topsWalked[i] == pgd) {
                    return;
                }
            }
            topsWalked[tops[0]++] = pgd;
            table(pgd, mode.levels(), 0);
        }

        void table(long table, int level, long vaBase) {
            int pfn = (int) (table >>> PhysicalMemory.PAGE_SHIFT);
            if (level < mode.levels()) {          // the top table may be a 32-byte PAE pgd in a shared slab page
                if (walked.get(pfn)) {
                    return;                       // kernel tables are shared by every mm: walked once
                }
                walked.set(pfn);
            }
            own(pfn, pfn + 1);
            long[] words = frameAt[level];
            if (words == null) {
                words = frameAt[level] = new long[WORDS];   // a walk that ends early needs fewer
            }
            mem.peekFrame(table, words);
            int eb = mode.entryBytes();
            int first = (int) (table & (PhysicalMemory.PAGE_SIZE - 1)) / eb;
            // another mm's top entries equal to init_mm's are the kernel's, walked with init_mm
            boolean skipKernel = level == mode.levels() && table != initPgd;
            int initFirst = (int) (initPgd & (PhysicalMemory.PAGE_SIZE - 1)) / eb;
            int n = mode.entries(level);
            if (eb == 8 && first == 0 && n == WORDS && (!skipKernel || initFirst == 0)) {
                // A whole frame of 8-byte entries: jump from one entry worth a look to the next
                // (Arrays.mismatch compares many words per instruction). Skipped are the entries
                // equal to the reference: zero, or init_mm's for another mm's top table; the loop
                // below skips the same ones one at a time.
                long[] ref = skipKernel ? initWords : ZERO_FRAME;
                for (int i = nextDiffering(words, ref, 0); i < n && unowned[0] > 0; i = nextDiffering(words, ref, i + 1)) {
                    entry(words[i], i, level, vaBase, -1L);
                }
                return;
            }
            for (int i = 0; i < n && unowned[0] > 0; i++) {
                long e = entry(words, first + i, eb);
                if (skipKernel && e == entry(initWords, initFirst + i, eb)) {
                    continue;
                }
                entry(e, i, level, vaBase, eb == 8 ? -1L : 0xFFFF_FFFFL);
            }
        }

        /** The first index at or after {@code from} where {@code words} and {@code ref} differ, or {@link #WORDS}. */
        private static int nextDiffering(long[] words, long[] ref, int from) {
            int m = java.util.Arrays.mismatch(words, from, WORDS, ref, from, WORDS);
            return m < 0 ? WORDS : from + m;
        }

        /** Entry {@code i} of a table at {@code level} covering va from {@code vaBase}: owns what it maps. */
        private void entry(long e, int i, int level, long vaBase, long entryMask) {
            if ((e & PteBits.P) == 0) {
                return;
            }
            long va = vaBase | ((long) i << mode.shift(level));
            long next = e & 0x000F_FFFF_FFFF_F000L & entryMask;
            boolean leaf = level == 1 || (mode.largePageAllowed(level) && (e & PteBits.PS) != 0
                    && !(mode.isPae() && level == 3));
            if (leaf) {
                leaf(canonical(va), next, level == 1 ? PhysicalMemory.PAGE_SIZE : mode.entrySpan(level));
            } else if (next < mem.sizeBytes()) {
                table(next, level - 1, va);
            }
        }

        /** Entry {@code index} of a frame read as words: 4-byte entries are little-endian halves. */
        private static long entry(long[] words, int index, int eb) {
            if (eb == 8) {
                return words[index];
            }
            long w = words[index >>> 1];
            return (index & 1) == 0 ? w & 0xFFFF_FFFFL : w >>> 32;
        }

        private void leaf(long va, long pa, long span) {
            if (Long.compareUnsigned(va, directStart) >= 0 && Long.compareUnsigned(va, directEnd) < 0) {
                return;                           // the direct map: every frame of RAM, owned by no one
            }
            long first = (pa & ~(span - 1)) >>> PhysicalMemory.PAGE_SHIFT;
            long end = Math.min(first + (span >>> PhysicalMemory.PAGE_SHIFT), mem.sizeBytes() >>> PhysicalMemory.PAGE_SHIFT);
            if (first < end) {
                own((int) first, (int) end);
            }
        }

        /** Marks frames [from, to) owned, counting the subjects among them found for the first time. */
        private void own(int from, int to) {
            for (int s = subjects.nextSetBit(from); s >= 0 && s < to; s = subjects.nextSetBit(s + 1)) {
                if (!owned.get(s)) {
                    unowned[0]--;
                }
            }
            owned.set(from, to);
        }

        private long canonical(long va) {
            int bits = mode.vaBits();
            return mode.isLongMode() && ((va >>> (bits - 1)) & 1) != 0 ? va | -(1L << bits) : va;
        }
    }
}
