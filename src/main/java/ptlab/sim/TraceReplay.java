package ptlab.sim;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.LongConsumer;

import ptlab.hw.AccessType;
import ptlab.hw.CpuRegisters;
import ptlab.hw.Mmu;
import ptlab.hw.PageFaultError;
import ptlab.hw.PagingMode;
import ptlab.hw.PhysicalMemory;
import ptlab.hw.TlbConfig;
import ptlab.hw.WalkResult;
import ptlab.trace.AccessSink;
import ptlab.trace.TraceReader;

/**
 * {@code ptlab trace replay}: runs a memory-access trace through one demand-paged user process
 * on one simulated CPU, and counts what the paging hardware and the fault handler did.
 *
 * <pre>
 *   trace line ─► reader ─► access(kind, va, size) ─► one translation per page touched
 *                                                      │  (an access crossing a page boundary
 *                                                      │   touches both pages)
 *                         Mmu.translate (TLB, PSCs, walk) ─ #PF not present ─► map the page,
 *                                                                               translate again
 * </pre>
 *
 * Accesses at or above the end of user space (e.g. a 64-bit trace replayed as x86-32) are
 * counted as {@code out_of_range} and not translated. A page fault is taken on the first touch
 * of every page; the retried translation misses the TLB again, so
 * {@code tlb_hits + tlb_misses = accesses + page_faults}, as a CPU's counters would show.
 * Nothing here allocates per access.
 */
public final class TraceReplay implements AccessSink {

    /** What to replay on: the paging mode, the page size and the geometry of its TLB array. */
    public record Config(PagingMode mode, boolean largePages, int tlbEntries, int tlbWays) {

        /** The default TLB geometry for the page size (TlbConfig.DEFAULT: 64×4-way 4K, 32×4-way large). */
        public static Config of(PagingMode mode, boolean largePages) {
            TlbConfig d = TlbConfig.DEFAULT;
            return largePages ? new Config(mode, true, d.entriesLarge(), d.waysLarge())
                    : new Config(mode, false, d.entries4k(), d.ways4k());
        }

        public int leafLevel() {
            return largePages ? 2 : 1;
        }

        public int pageShift() {
            return mode.shift(leafLevel());
        }

        TlbConfig tlbConfig() {
            TlbConfig d = TlbConfig.DEFAULT;
            return largePages
                    ? new TlbConfig(d.entries4k(), d.ways4k(), tlbEntries, tlbWays, d.entries1g(), d.ways1g())
                    : new TlbConfig(tlbEntries, tlbWays, d.entriesLarge(), d.waysLarge(), d.entries1g(), d.ways1g());
        }
    }

    /** The counts of one replay. {@code pageTablePages} maps Linux level names, top first, to pages. */
    public record Result(Config config, long lines, long records, long ignoredLines, long skippedLines,
                         long firstSkippedLine, long bytesRead, long accesses, long outOfRange, long distinctPages,
                         Map<String, Long> pageTablePages, long tlbHits, long tlbMisses, long walkMemoryRefs,
                         long pageFaults, long nanos, boolean interrupted) {

        public long pageTablePagesTotal() {
            return pageTablePages.values().stream().mapToLong(Long::longValue).sum();
        }

        public double seconds() {
            return nanos / 1e9;
        }

        public double linesPerSecond() {
            return nanos == 0 ? 0 : lines * 1e9 / nanos;
        }
    }

    private static final AccessType[] KINDS = new AccessType[3];

    static {
        KINDS[TraceReader.READ] = AccessType.READ;
        KINDS[TraceReader.WRITE] = AccessType.WRITE;
        KINDS[TraceReader.FETCH] = AccessType.FETCH;
    }

    private final Config config;
    private final Mmu mmu;
    private final DemandPager pager;
    private final WalkResult out = new WalkResult();
    private final int pageShift;
    private final long userEnd;
    private long accesses;
    private long outOfRange;
    private long pageFaults;

    /*
     * Repeat-hit memo: mruPage[set] is the page this replay last translated in that set of the
     * TLB array for its page size, mruKinds[set] the access kinds (1 << kind) that have succeeded
     * on it since. Such a page is the most recently used entry of its set, so translating it again
     * with one of those kinds is a TLB hit that changes nothing: no LRU order to update (it already
     * is the newest), no A/D bit to set (a write is memoized only after a write made the entry
     * dirty), no memory read. The replay counts it as a hit without calling the Mmu. Any fault
     * clears the memo, because fault handling may invalidate TLB entries. The brute-force model
     * in TraceReplayTest checks that counts are exactly those of calling the Mmu every time.
     */
    private final long[] mruPage;
    private final int[] mruKinds;
    private final int setMask;
    private long memoHits;

    public TraceReplay(Config config) {
        this.config = config;
        PagingMode mode = config.mode();
        this.pageShift = config.pageShift();
        this.userEnd = userEnd(mode);
        PhysicalMemory memory = new PhysicalMemory(physicalMemoryBytes(mode));
        this.pager = new DemandPager(memory, mode, config.leafLevel(), userEnd);
        CpuRegisters regs = new CpuRegisters(mode);
        this.mmu = new Mmu(memory, regs, config.tlbConfig());
        if (!mmu.writeCr3(pager.root())) {
            throw new IllegalStateException("CR3 load failed for the replay process in " + mode);
        }
        int sets = config.tlbEntries() / config.tlbWays();
        this.setMask = sets - 1;
        this.mruPage = new long[sets];
        this.mruKinds = new int[sets];
        forgetMemo();
    }

    private void forgetMemo() {
        java.util.Arrays.fill(mruPage, -1L);
        java.util.Arrays.fill(mruKinds, 0);
    }

    /**
     * The end of user space, as Linux's TASK_SIZE: 3 GiB on the 32-bit modes (the default
     * VMSPLIT_3G), 128 TiB minus a guard page with 4-level paging, 64 PiB minus one with 5-level.
     */
    public static long userEnd(PagingMode mode) {
        return switch (mode) {
            case X86_32, X86_32_PAE -> 0xC000_0000L;
            case X86_64 -> (1L << 47) - PhysicalMemory.PAGE_SIZE;
            case X86_64_LA57 -> (1L << 56) - PhysicalMemory.PAGE_SIZE;
        };
    }

    /** 4 GiB where entries hold 32-bit addresses, else enough for any trace that fits in a JVM. */
    private static long physicalMemoryBytes(PagingMode mode) {
        return switch (mode) {
            case X86_32 -> 4L << 30;
            case X86_32_PAE -> 64L << 30;
            default -> 1L << 40;
        };
    }

    /** Replays {@code reader} to its end (or until it is stopped) and returns the counts. */
    public Result replay(TraceReader reader, LongConsumer onProgress) throws IOException {
        long t0 = System.nanoTime();
        boolean complete = reader.replay(this, onProgress);
        long nanos = System.nanoTime() - t0;
        return result(reader, nanos, !complete);
    }

    public Result replay(TraceReader reader) throws IOException {
        return replay(reader, null);
    }

    @Override
    public void access(int kind, long address, int size) {
        translate(kind, address);
        long last = address + size - 1;
        if (Long.compareUnsigned(last, address) < 0) {
            last = -1L;                                  // wraps past 2^64: stop at the top
        }
        long lastPage = last >>> pageShift;
        for (long page = (address >>> pageShift) + 1; page <= lastPage; page++) {
            translate(kind, page << pageShift);          // crosses into the next page
        }
    }

    private void translate(int kind, long va) {
        if (Long.compareUnsigned(va, userEnd) >= 0) {
            outOfRange++;
            return;
        }
        accesses++;
        long page = va >>> pageShift;
        int set = (int) page & setMask;
        int bit = 1 << kind;
        if (mruPage[set] == page) {
            if ((mruKinds[set] & bit) != 0) {
                memoHits++;
                return;
            }
        } else {
            mruPage[set] = page;
            mruKinds[set] = 0;
        }
        AccessType type = KINDS[kind];
        if (!mmu.translate(va, type, true, false, out)) {
            pageFault(type, va);
            mruPage[set] = page;                         // the retry made it the newest entry of its set
        }
        mruKinds[set] |= bit;
    }

    /** Kept out of {@link #translate} so that the hot path stays small enough to inline. */
    private void pageFault(AccessType type, long va) {
        if (out.exception != WalkResult.EXC_PF || (out.errorCode & PageFaultError.P) != 0) {
            throw new IllegalStateException("unexpected fault replaying " + type + " at 0x" + Long.toHexString(va)
                    + ": " + out);
        }
        pageFaults++;
        forgetMemo();
        pager.map(va);
        if (!mmu.translate(va, type, true, false, out)) {
            throw new IllegalStateException("fault after mapping 0x" + Long.toHexString(va) + ": " + out);
        }
    }

    private Result result(TraceReader reader, long nanos, boolean interrupted) {
        PagingMode mode = config.mode();
        Map<String, Long> tables = new LinkedHashMap<>();
        for (int level = mode.levels(); level >= config.leafLevel(); level--) {
            tables.put(mode.linuxName(level), pager.tables(level));
        }
        return new Result(config, reader.lines(), reader.records(), reader.ignoredLines(), reader.skippedLines(),
                reader.firstSkippedLine(), reader.bytesRead(), accesses, outOfRange, pager.pagesMapped(), tables,
                mmu.hits() + memoHits, mmu.misses(), mmu.walkMemoryRefs(), pageFaults, nanos, interrupted);
    }
}
