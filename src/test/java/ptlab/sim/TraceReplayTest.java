package ptlab.sim;

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
 * Replays random traces with locality in every mode and page size and checks every count
 * against a brute-force model written here: a HashSet of pages, an LRU list per TLB set, and
 * page-table pages counted as the distinct address prefixes each level needs.
 */
class TraceReplayTest {

    record Access(int kind, long address, int size) {
    }

    static List<Access> randomTrace(PagingMode mode, long seed, int n) {
        SplittableRandom rnd = new SplittableRandom(seed);
        long userEnd = TraceReplay.userEnd(mode);
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
        final Set<Long> pages = new HashSet<>();
        final List<LinkedHashSet<Long>> sets = new ArrayList<>();
        final int ways;
        final int shift;
        long accesses;
        long outOfRange;
        long hits;
        long misses;
        long faults;

        Oracle(TraceReplay.Config c) {
            ways = c.tlbWays();
            shift = c.pageShift();
            for (int i = 0; i < c.tlbEntries() / c.tlbWays(); i++) {
                sets.add(new LinkedHashSet<>());
            }
        }

        void run(List<Access> trace, long userEnd) {
            for (Access a : trace) {
                long first = a.address() >>> shift;
                long last = (a.address() + a.size() - 1) >>> shift;
                for (long p = first; p <= last; p++) {
                    if (Math.max(a.address(), p << shift) >= userEnd) {   // the first byte touched in the page
                        outOfRange++;
                        continue;
                    }
                    accesses++;
                    if (pages.add(p)) {
                        faults++;
                        misses++;     // the faulting walk; the retry misses again below
                    }
                    LinkedHashSet<Long> set = sets.get((int) (p & (sets.size() - 1)));
                    if (set.remove(p)) {
                        hits++;
                    } else {
                        misses++;
                        if (set.size() == ways) {
                            set.remove(set.iterator().next());
                        }
                    }
                    set.add(p);
                }
            }
        }

        /** Tables per level, top first: one top-level table, then distinct prefixes per level. */
        Map<String, Long> tables(PagingMode mode, int leafLevel) {
            Map<String, Long> t = new LinkedHashMap<>();
            t.put(mode.linuxName(mode.levels()), 1L);
            for (int level = mode.levels() - 1; level >= leafLevel; level--) {
                int s = mode.shift(level + 1);
                Set<Long> prefixes = new HashSet<>();
                for (long p : pages) {
                    prefixes.add((p << shift) >>> s);
                }
                // PAE: the pmds of the whole user space come with the pgd (Linux PREALLOCATED_PMDS)
                t.put(mode.linuxName(level), mode.isPae() && level == 2 ? 3L : (long) prefixes.size());
            }
            return t;
        }
    }

    static TraceReplay.Result replay(TraceReplay.Config c, TraceFormat format, String text) throws IOException {
        TraceReader reader = format.reader(Channels.newChannel(
                new ByteArrayInputStream(text.getBytes(StandardCharsets.US_ASCII))), 4096);
        return new TraceReplay(c).replay(reader);
    }

    static List<Arguments> configs() {
        List<Arguments> list = new ArrayList<>();
        for (PagingMode mode : PagingMode.values()) {
            for (boolean large : new boolean[] {false, true}) {
                list.add(Arguments.of(TraceReplay.Config.of(mode, large)));
                list.add(Arguments.of(new TraceReplay.Config(mode, large, 16, 2)));
                list.add(Arguments.of(new TraceReplay.Config(mode, large, 8, 8)));   // fully associative
            }
        }
        return list;
    }

    @ParameterizedTest
    @MethodSource("configs")
    void countsMatchBruteForce(TraceReplay.Config c) throws IOException {
        PagingMode mode = c.mode();
        List<Access> trace = randomTrace(mode, 1000 + mode.ordinal() * 10 + (c.largePages() ? 1 : 0), 20_000);
        Oracle o = new Oracle(c);
        o.run(trace, TraceReplay.userEnd(mode));
        assertTrue(o.faults > 50 && o.hits > 1000 && o.misses > 1000 && o.outOfRange > 0,
                "the trace exercises faults, hits, misses and the end of user space");
        for (TraceFormat format : TraceFormat.values()) {
            String text = format == TraceFormat.LACKEY ? lackey(trace) : plain(trace);
            TraceReplay.Result r = replay(c, format, text);
            String what = c + " " + format;
            assertEquals(trace.size() + 1, r.lines(), what);
            assertEquals(trace.size(), r.records(), what);
            assertEquals(0, r.skippedLines(), what);
            assertEquals(o.accesses, r.accesses(), what);
            assertEquals(o.outOfRange, r.outOfRange(), what);
            assertEquals(o.pages.size(), r.distinctPages(), what);
            assertEquals(o.faults, r.pageFaults(), what);
            assertEquals(o.hits, r.tlbHits(), what);
            assertEquals(o.misses, r.tlbMisses(), what);
            assertEquals(r.accesses() + r.pageFaults(), r.tlbHits() + r.tlbMisses(), what);
            assertEquals(o.tables(mode, c.leafLevel()), r.pageTablePages(), what);
            // every walk reads at least one entry and at most one per level; writes to clean
            // entries walk again, so the upper bound counts all writes
            long writes = trace.stream().filter(a -> a.kind() == TraceReader.WRITE).count() * 2;
            assertTrue(r.walkMemoryRefs() >= r.tlbMisses(), what);
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
        assertEquals(3, big.accesses());     // the 4K crossing stays in one 2M page; 0x1FFFFC..0x200003 crosses
        assertEquals(3, big.distinctPages()); // 2M pages 2, 0 and 1
    }
}
