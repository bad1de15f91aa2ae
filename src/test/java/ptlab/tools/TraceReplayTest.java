package ptlab.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.channels.Channels;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

import ptlab.hw.PagingMode;
import ptlab.trace.TraceFormat;
import ptlab.trace.TraceReader;

/**
 * Replays random traces with locality in every mode and page size through the kernel and checks
 * every count against a brute-force model written here: a HashSet of pages, an LRU list per TLB
 * set, and page-table pages counted as the distinct address prefixes each level needs.
 * The model knows the process: one VMA from mmap_min_addr to TASK_SIZE; with THP a 2 MiB page
 * where the aligned 2 MiB range fits in the VMA, else 4 KiB pages (in the 4 KiB TLB array).
 */
class TraceReplayTest {

    record Access(int kind, long address, int size) {
    }

    static long userEnd(TraceReplay.Config c) {
        return new TraceReplay(c).userEnd();
    }

    static List<Access> randomTrace(long userEnd, long seed, int n) {
        SplittableRandom rnd = new SplittableRandom(seed);
        // a few regions spread over the address space, so that upper-level tables multiply
        long[] regions = new long[8];
        for (int i = 0; i < regions.length; i++) {
            regions[i] = rnd.nextLong(userEnd - (64L << 20)) & ~0xFFFL;
        }
        regions[0] = 0;                                    // page 0 and the very first table
        regions[1] = userEnd - (4L << 20);                 // the last pages of user space
        List<Access> list = new ArrayList<>();
        long cursor = regions[2];
        for (int i = 0; i < n; i++) {
            int kind = rnd.nextInt(3);
            int r = rnd.nextInt(100);
            long a;
            int size = 1 << rnd.nextInt(4);
            if (r < 50) {
                cursor += rnd.nextInt(64);                 // sequential run
                a = cursor;
            } else if (r < 85) {
                a = regions[rnd.nextInt(regions.length)] + rnd.nextLong(256L << 10);   // hot, 64 pages each
            } else if (r < 95) {
                a = regions[rnd.nextInt(regions.length)] + rnd.nextLong(64L << 20);    // cold
            } else if (r < 98) {
                // crosses a 4K or a large-page boundary
                long boundary = regions[rnd.nextInt(regions.length)] + (rnd.nextInt(32) << 21);
                a = boundary - 1 - rnd.nextInt(7);
                size = 8 + rnd.nextInt(8);
            } else {
                a = userEnd - 3 + rnd.nextInt(6);           // straddles or passes the end of user space
            }
            if (a < 0) {
                a = 0;
            }
            list.add(new Access(kind, a, size));
        }
        return list;
    }

    static String lackey(List<Access> trace) {
        StringBuilder sb = new StringBuilder("==1== Lackey\n");
        for (Access a : trace) {
            String op = switch (a.kind()) {
                case TraceReader.FETCH -> "I ";
                case TraceReader.READ -> " L";
                default -> " S";
            };
            sb.append(op).append(' ').append(String.format("%08X", a.address())).append(',').append(a.size()).append('\n');
        }
        return sb.toString();
    }

    static String plain(List<Access> trace) {
        StringBuilder sb = new StringBuilder("# plain\n");
        for (Access a : trace) {
            sb.append("RWX".charAt(a.kind())).append(" 0x").append(Long.toHexString(a.address())).append(' ')
                    .append(a.size()).append('\n');
        }
        return sb.toString();
    }

    /** The brute-force model of what a replay must count. */
    static final class Oracle {
        /** Pages mapped, as their first byte's address (4 KiB or 2 MiB aligned). */
        final Set<Long> pages = new HashSet<>();
        final Set<Long> smallPages = new HashSet<>();
        final List<LinkedHashSet<Long>> sets = new ArrayList<>();
        final List<LinkedHashSet<Long>> sets4k = new ArrayList<>();
        final int ways;
        final int ways4k;
        final boolean thp;
        final long userEnd;
        /**
         * PAE: the user GiBs whose PDPTE points at a pmd. pgd_alloc preallocates all three
         * (PREALLOCATED_PMDS), but replacing the initial stack vma just below TASK_SIZE with the
         * replay's vma frees the top one's pmd (free_pgtables: no other vma needs it); the first
         * fault there allocates it again, and pud_populate on PAE reloads CR3: a full TLB flush.
         */
        final Set<Long> pdptPresent = new HashSet<>();
        final boolean pae;
        long accesses;
        long outOfRange;
        long sigsegv;
        long hits;
        long misses;
        long faults;

        Oracle(TraceReplay.Config c, long userEnd) {
            this.userEnd = userEnd;
            thp = c.largePages();
            pae = c.mode().isPae();
            if (pae) {
                for (long gib = 0; gib < (userEnd - 1) >>> 30; gib++) {
                    pdptPresent.add(gib);
                }
            }
            ways = c.tlbWays();
            for (int i = 0; i < c.tlbEntries() / c.tlbWays(); i++) {
                sets.add(new LinkedHashSet<>());
            }
            ways4k = 4;                      // the 4K array keeps its default 64 x 4-way with THP
            for (int i = 0; i < 16; i++) {
                sets4k.add(new LinkedHashSet<>());
            }
        }

        /** Whether the page holding {@code va} is a 2 MiB one. */
        boolean huge(long va) {
            long h = va & -(2L << 20);
            return thp && h >= TraceReplay.MMAP_MIN_ADDR && h + (2L << 20) <= userEnd;
        }

        void run(List<Access> trace) {
            for (Access a : trace) {
                long va = a.address();
                long last = a.address() + a.size() - 1;
                while (true) {
                    translate(va);
                    long next = ((va >>> 12) + 1) << 12;     // split at every 4 KiB boundary
                    if (next > last || next <= va) {
                        break;
                    }
                    va = next;
                }
            }
        }

        void translate(long va) {
            if (va >= userEnd) {
                outOfRange++;
                return;
            }
            accesses++;
            if (va < TraceReplay.MMAP_MIN_ADDR) {
                sigsegv++;
                misses++;                    // the walk that faulted; the kernel sends SIGSEGV
                return;
            }
            boolean h = huge(va);
            long page = h ? va >>> 21 : va >>> 12;
            if (pages.add(page << (h ? 21 : 12))) {
                faults++;
                misses++;                    // the faulting walk; the retry misses again below
                if (!h) {
                    smallPages.add(page);
                }
                if (pae && pdptPresent.add(va >>> 30)) {
                    sets.forEach(Set::clear);   // pud_populate: flush_tlb_mm, CR3 reload
                    sets4k.forEach(Set::clear);
                }
            }
            List<LinkedHashSet<Long>> array = thp && !h ? sets4k : sets;
            int w = thp && !h ? ways4k : ways;
            LinkedHashSet<Long> set = array.get((int) (page & (array.size() - 1)));
            if (set.remove(page)) {
                hits++;
            } else {
                misses++;
                if (set.size() == w) {
                    set.remove(set.iterator().next());
                }
            }
            set.add(page);
        }

        /** Tables per level, top first: one top-level table, then distinct prefixes per level. */
        Map<String, Long> tables(PagingMode mode) {
            Map<String, Long> t = new LinkedHashMap<>();
            t.put(mode.linuxName(mode.levels()), mode.isPae() ? 0L : 1L);   // PAE: the pgd is a 32-byte slab object
            for (int level = mode.levels() - 1; level >= 1; level--) {
                int s = mode.shift(level + 1);
                Set<Long> prefixes = new HashSet<>();
                for (long p : level == 1 ? smallPagesAsAddresses() : pages) {
                    prefixes.add(p >>> s);
                }
                if (mode.isPae() && level == 2) {
                    prefixes.addAll(pdptPresent);   // the preallocated pmds that stayed
                }
                long n = prefixes.size();
                t.put(mode.linuxName(level), n);
            }
            return t;
        }

        private Set<Long> smallPagesAsAddresses() {
            Set<Long> a = new HashSet<>();
            for (long p : smallPages) {
                a.add(p << 12);
            }
            return a;
        }
    }

    static TraceReplay.Result replay(TraceReplay.Config c, TraceFormat format, String text) throws IOException {
        return replay(c, format, text, 1);
    }

    /** Replays {@code text} parsed on {@code threads} threads (4 KiB buffers: a split every buffer with 2). */
    static TraceReplay.Result replay(TraceReplay.Config c, TraceFormat format, String text, int threads)
            throws IOException {
        TraceReader reader = format.reader(Channels.newChannel(
                new ByteArrayInputStream(text.getBytes(StandardCharsets.US_ASCII))), 4096, threads);
        return new TraceReplay(c).replay(reader);
    }

    static List<Arguments> configs() {
        List<Arguments> list = new ArrayList<>();
        for (PagingMode mode : PagingMode.values()) {
            for (boolean large : mode.isLongMode() ? new boolean[] {false, true} : new boolean[] {false}) {
                // enough RAM that no huge page falls back to 4K pages for want of a free 2M block
                TraceReplay.Config c = TraceReplay.Config.of(mode, large).withRam(large ? 2L << 30 : 256L << 20);
                list.add(Arguments.of(c, 1));
                list.add(Arguments.of(c.withTlb(16, 2), 2));   // parsed on two threads
                list.add(Arguments.of(c.withTlb(8, 8), 1));    // fully associative
            }
        }
        return list;
    }

    @ParameterizedTest
    @MethodSource("configs")
    void countsMatchBruteForce(TraceReplay.Config c, int threads) throws IOException {
        PagingMode mode = c.mode();
        long userEnd = userEnd(c);
        List<Access> trace = randomTrace(userEnd, 1000 + mode.ordinal() * 10 + (c.largePages() ? 1 : 0),
                c.largePages() ? 5_000 : 20_000);
        Oracle o = new Oracle(c, userEnd);
        o.run(trace);
        assertTrue(o.faults > 20 && o.hits > 1000 && o.misses > 200 && o.outOfRange > 0 && o.sigsegv > 0,
                "the trace exercises faults, hits, misses, SIGSEGV and the end of user space: " + o.faults + " "
                        + o.hits + " " + o.misses + " " + o.outOfRange + " " + o.sigsegv);
        for (TraceFormat format : TraceFormat.values()) {
            String text = format == TraceFormat.LACKEY ? lackey(trace) : plain(trace);
            TraceReplay.Result r = replay(c, format, text, threads);
            String what = c + " " + format + " on " + threads + " thread(s)";
            assertEquals(trace.size() + 1, r.lines(), what);
            assertEquals(trace.size(), r.records(), what);
            assertEquals(0, r.skippedLines(), what);
            assertEquals(o.accesses, r.accesses(), what);
            assertEquals(o.outOfRange, r.outOfRange(), what);
            assertEquals(o.sigsegv, r.sigsegv(), what);
            assertEquals(o.pages.size(), r.distinctPages(), what);
            assertEquals(o.faults, r.pageFaults(), what);      // handle_mm_fault calls; SIGSEGVs are counted apart
            assertEquals(o.hits, r.tlbHits(), what);
            assertEquals(o.misses, r.tlbMisses(), what);
            assertEquals(o.tables(mode), r.pageTablePages(), what);
            // every walk reads at least one entry and at most one per level; writes to clean
            // entries walk again, so the upper bound counts all writes
            long writes = trace.stream().filter(a -> a.kind() == TraceReader.WRITE).count() * 2;
            assertTrue(r.walkMemoryRefs() >= r.tlbMisses() - r.sigsegv(), what);
            assertTrue(r.walkMemoryRefs() <= (r.tlbMisses() + writes) * mode.levels(), what);
            assertFalse(r.interrupted());
        }
    }

    @Test
    void pageCrossingAccessTouchesBothPages() throws IOException {
        TraceReplay.Config c = TraceReplay.Config.of(PagingMode.X86_64, false);
        TraceReplay.Result r = replay(c, TraceFormat.LACKEY, "I  00400FFE,4\n L 00401000,4\n M 00402FFC,8\n");
        assertEquals(3, r.records());
        assertEquals(7, r.accesses());       // 2 + 1 + (load of 2 pages, store to 2 pages)
        assertEquals(4, r.distinctPages());  // 0x400, 0x401, 0x402, 0x403
        assertEquals(4, r.pageFaults());
        // the second line hits the page the first one faulted in
        TraceReplay.Result big = replay(TraceReplay.Config.of(PagingMode.X86_64, true), TraceFormat.LACKEY,
                "I  00400FFE,4\n L 001FFFFC,8\n");
        assertEquals(4, big.accesses());      // split at 4K boundaries, also inside a 2M page
        assertEquals(3, big.distinctPages()); // 2M page 2, 4K page 0x1FF000 (below 2M: not a whole 2M range
                                              // of the VMA, which starts at 64K), 2M page 1
    }

    @Test
    void zeroPageMakesAWriteAfterAReadFaultAgain() throws IOException {
        String text = "R 0x400000\nW 0x400008 8\nR 0x401000\n";
        TraceReplay.Config c = TraceReplay.Config.of(PagingMode.X86_64, false);
        TraceReplay.Result plain = replay(c, TraceFormat.PLAIN, text);
        assertEquals(2, plain.pageFaults());             // first touch of each page allocates it
        assertEquals(2, plain.distinctPages());
        TraceReplay.Result zero = replay(c.withZeroPage(true), TraceFormat.PLAIN, text);
        assertEquals(3, zero.pageFaults());              // the write to the zero page faults: do_wp_page copies
        assertEquals(2, zero.distinctPages());           // the zero page mapped at 0x401000 counts as touched
    }

    @Test
    void outOfSimulatedRamIsABadInputNamingTheFix() {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 20_000; i++) {                 // 80 MB of distinct pages in 64 MB of RAM
            sb.append("W 0x").append(Long.toHexString(0x1000_0000L + (long) i * 4096)).append('\n');
        }
        for (int threads = 1; threads <= 2; threads++) {
            TraceReplay.Config c = TraceReplay.Config.of(PagingMode.X86_64, false).withRam(64L << 20);
            int t = threads;
            TraceReplay.OutOfSimulatedRam e = org.junit.jupiter.api.Assertions.assertThrows(
                    TraceReplay.OutOfSimulatedRam.class, () -> replay(c, TraceFormat.PLAIN, sb.toString(), t));
            assertTrue(e.getMessage().contains("raise --ram"), e.getMessage());
        }
    }

    @Test
    void largePagesNeedLongMode() {
        for (PagingMode mode : new PagingMode[] {PagingMode.X86_32, PagingMode.X86_32_PAE}) {
            org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> new TraceReplay(TraceReplay.Config.of(mode, true)));
        }
    }

    /**
     * Memory does not grow with the trace: once every page was faulted in, replaying four times
     * as many lines allocates (next to) nothing more on the replaying thread.
     */
    @Test
    void allocationDoesNotGrowWithTraceLength() throws IOException {
        com.sun.management.ThreadMXBean threads =
                (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        long[] allocated = new long[2];
        int[] lines = {50_000, 200_000};
        for (int round = 0; round < 2; round++) {
            List<Access> trace = new ArrayList<>();
            SplittableRandom rnd = new SplittableRandom(3);
            for (int i = 0; i < lines[round]; i++) {
                trace.add(new Access(rnd.nextInt(3), 0x40_0000L + rnd.nextInt(256) * 4096L + rnd.nextInt(4096), 8));
            }
            byte[] text = lackey(trace).getBytes(StandardCharsets.US_ASCII);
            TraceReplay replay = new TraceReplay(TraceReplay.Config.of(PagingMode.X86_64, false));
            TraceReader reader = TraceFormat.LACKEY.reader(Channels.newChannel(new ByteArrayInputStream(text)), 1 << 16);
            long before = threads.getCurrentThreadAllocatedBytes();
            TraceReplay.Result r = replay.replay(reader);
            allocated[round] = threads.getCurrentThreadAllocatedBytes() - before;
            assertEquals(lines[round] + 1, r.lines());
        }
        assertTrue(allocated[1] - allocated[0] < 64 * 1024,
                "50,000 lines allocated " + allocated[0] + " bytes, 200,000 lines " + allocated[1]);
    }
}
