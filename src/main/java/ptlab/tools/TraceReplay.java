package ptlab.tools;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.LongConsumer;

import ptlab.hw.AccessType;
import ptlab.hw.Mmu;
import ptlab.hw.PagingMode;
import ptlab.hw.TlbConfig;
import ptlab.kernel.Cpu;
import ptlab.kernel.Kernel;
import ptlab.kernel.KernelConfig;
import ptlab.kernel.KernelStats;
import ptlab.kernel.Task;
import ptlab.trace.AccessSink;
import ptlab.trace.TraceReader;

/**
 * {@code ptlab trace replay}: runs a memory-access trace through one demand-paged user process
 * of the simulated kernel on one simulated CPU, and counts what the paging hardware and the
 * kernel's fault handler did.
 *
 * <pre>
 *   trace line ─► reader ─► access(kind, va, size) ─► one translation per page touched
 *                                                      │  (an access crossing a page boundary
 *                                                      │   touches both pages)
 *      Kernel.access: Mmu.translate (TLB, PSCs, walk) ─ #PF ─► do_user_addr_fault ─► handle_mm_fault,
 *                                                                                    translate again
 * </pre>
 *
 * The process has one anonymous read-write-execute private VMA covering its whole user address
 * space from {@code mmap_min_addr} (64 KiB) to TASK_SIZE, so every access faults its page in on
 * first touch, as a program's heap, stack and (anonymous) text would. With {@code --page-size 2M}
 * the kernel's transparent huge pages map it with pmd-level 2 MiB pages (4/5-level paging only, as
 * in the kernel model). Accesses at or above TASK_SIZE (e.g. a 64-bit trace replayed as x86-32)
 * are counted as {@code out_of_range} and not translated; accesses the kernel answers with
 * SIGSEGV (below {@code mmap_min_addr}) are counted as {@code sigsegv} and the replay goes on.
 * A faulting access is retried after the fault handler and misses the TLB again, so
 * {@code tlb_hits + tlb_misses = accesses + page_faults} when nothing else faults.
 * Nothing here allocates per access.
 */
public final class TraceReplay implements AccessSink {

    /** Simulated RAM unless configured: enough for a trace touching a few GiB of distinct pages. */
    public static final long DEFAULT_RAM = 4L << 30;

    /**
     * What to replay on: the paging mode, the page size, the geometry of the TLB array for that
     * page size, RAM, and whether read faults map the shared zero page (Linux's default; off here
     * unless asked, so that a page is allocated and faulted exactly once, on first touch). How
     * many threads parse the trace is the reader's ({@link ptlab.trace.TraceFormat#reader(
     * java.nio.channels.ReadableByteChannel, int, int)}): the replay is the same either way.
     */
    public record Config(PagingMode mode, boolean largePages, int tlbEntries, int tlbWays, long ramBytes,
                         boolean zeroPage) {

        /** The default TLB geometry for the page size (TlbConfig.DEFAULT: 64×4-way 4K, 32×4-way large). */
        public static Config of(PagingMode mode, boolean largePages) {
            TlbConfig d = TlbConfig.DEFAULT;
            return largePages ? new Config(mode, true, d.entriesLarge(), d.waysLarge(), DEFAULT_RAM, false)
                    : new Config(mode, false, d.entries4k(), d.ways4k(), DEFAULT_RAM, false);
        }

        public Config withTlb(int entries, int ways) {
            return new Config(mode, largePages, entries, ways, ramBytes, zeroPage);
        }

        public Config withRam(long bytes) {
            return new Config(mode, largePages, tlbEntries, tlbWays, bytes, zeroPage);
        }

        public Config withZeroPage(boolean on) {
            return new Config(mode, largePages, tlbEntries, tlbWays, ramBytes, on);
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
                         long firstSkippedLine, long bytesRead, long accesses, long outOfRange, long sigsegv,
                         long distinctPages,
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
    private final Kernel kernel;
    private final Cpu cpu;
    private final Task task;
    private final Mmu mmu;
    private final KernelStats stats;
    private final long[] tablesAtBoot = new long[6];
    private final int pageShift;
    private final long userEnd;
    private long accesses;
    private long outOfRange;
    private long sigsegv;

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
    private final boolean memo;
    private long memoHits;

    /**
     * Boots a one-CPU kernel and starts the process the trace runs in.
     *
     * @throws IllegalArgumentException if the kernel cannot run {@code config} (large pages outside
     *                                  4/5-level paging, too little RAM)
     */
    public TraceReplay(Config config) {
        this.config = config;
        PagingMode mode = config.mode();
        if (config.largePages() && !mode.isLongMode()) {
            throw new IllegalArgumentException("--page-size 2M maps user memory with transparent huge pages, which "
                    + "the kernel model has on x86-64 and x86-64-la57 only, not " + mode);
        }
        this.pageShift = config.pageShift();
        this.kernel = new Kernel(mode, KernelConfig.defaults().withRam(config.ramBytes()).withCpus(1)
                .withTlb(config.tlbConfig()).withThp(config.largePages()).withZeroPage(config.zeroPage()));
        for (int level = 1; level <= mode.levels(); level++) {
            tablesAtBoot[level] = kernel.pageTablePages(level);
        }
        this.cpu = kernel.cpu(0);
        this.mmu = cpu.mmu();
        this.stats = kernel.stats();
        this.task = kernel.createProcess();
        if (task == null) {
            throw new OutOfSimulatedRam("out of simulated RAM creating the process; raise --ram");
        }
        this.userEnd = task.mm().taskSize();
        long start = MMAP_MIN_ADDR;
        long vma = kernel.mmap(task, start, userEnd - start, Kernel.PROT_READ | Kernel.PROT_WRITE | Kernel.PROT_EXEC,
                Kernel.MAP_PRIVATE | Kernel.MAP_ANONYMOUS | Kernel.MAP_FIXED);
        if (vma != start) {
            throw new IllegalStateException("mmap of the replay's address space failed: " + vma);
        }
        kernel.switchTo(cpu, task);
        mmu.resetStats();
        // The memo needs every translation at one page size. Transparent huge pages fall back to
        // 4 KiB pages where a 2 MiB range does not fit the VMA or no huge frame is free, so it is
        // used with 4 KiB pages only.
        this.memo = !config.largePages();
        int sets = config.tlbEntries() / config.tlbWays();
        this.setMask = sets - 1;
        this.mruPage = new long[sets];
        this.mruKinds = new int[sets];
        forgetMemo();
    }

    /** mmap_min_addr: the kernel maps nothing below (CONFIG_DEFAULT_MMAP_MIN_ADDR on x86). */
    public static final long MMAP_MIN_ADDR = 0x10000;

    /** TASK_SIZE of the replay's process: the end of user space. */
    public long userEnd() {
        return userEnd;
    }

    private void forgetMemo() {
        java.util.Arrays.fill(mruPage, -1L);
        java.util.Arrays.fill(mruKinds, 0);
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

    /**
     * One translation per 4 KiB page the access touches, whatever the page size: like a CPU, which
     * splits an access at 4 KiB boundaries before it knows the size of the page (so an access
     * crossing a 4 KiB boundary inside a 2 MiB page looks the TLB up twice).
     */
    @Override
    public void access(int kind, long address, int size) {
        translate(kind, address);
        long last = address + size - 1;
        if (Long.compareUnsigned(last, address) < 0) {
            last = -1L;                                  // wraps past 2^64: stop at the top
        }
        long lastPage = last >>> SPLIT_SHIFT;
        for (long page = (address >>> SPLIT_SHIFT) + 1; page <= lastPage; page++) {
            translate(kind, page << SPLIT_SHIFT);        // crosses into the next page
        }
    }

    private static final int SPLIT_SHIFT = 12;

    private void translate(int kind, long va) {
        if (Long.compareUnsigned(va, userEnd) >= 0) {
            outOfRange++;
            return;
        }
        accesses++;
        long page = va >>> pageShift;
        int set = (int) page & setMask;
        int bit = 1 << kind;
        if (!memo) {
            long pa = kernel.access(cpu, va, KINDS[kind]);
            if (pa < 0) {
                refused(va, pa);
            }
            return;
        }
        if (mruPage[set] == page) {
            if ((mruKinds[set] & bit) != 0) {
                memoHits++;
                return;
            }
        } else {
            mruPage[set] = page;
            mruKinds[set] = 0;
        }
        long faultsBefore = stats.pgfault.get();
        long pa = kernel.access(cpu, va, KINDS[kind]);
        if (stats.pgfault.get() != faultsBefore) {
            forgetMemo();                                // fault handling may have flushed TLB entries
            mruPage[set] = page;                         // the retry made it the newest entry of its set
        }
        if (pa < 0) {
            refused(va, pa);
            mruPage[set] = -1L;
            return;
        }
        mruKinds[set] |= bit;
    }

    /** Kept out of {@link #translate} so that the hot path stays small enough to inline. */
    private void refused(long va, long result) {
        if (result == Kernel.OOM) {
            throw new OutOfSimulatedRam(String.format("out of simulated RAM (%d MiB) at va 0x%x after %,d "
                    + "accesses; raise --ram", config.ramBytes() >> 20, va, accesses));
        }
        sigsegv++;                                       // a real process would die here; the replay goes on
    }

    private Result result(TraceReader reader, long nanos, boolean interrupted) {
        PagingMode mode = config.mode();
        Map<String, Long> tables = new LinkedHashMap<>();
        for (int level = mode.levels(); level >= 1; level--) {     // every level, pte too (0 when all THP)
            tables.put(mode.linuxName(level), kernel.pageTablePages(level) - tablesAtBoot[level]);
        }
        // every page the trace touched got one first fault: a new anonymous page, a 2 MiB THP, or
        // (--zero-page, reads) the zero page; a later copy-on-write of that pte is the same page
        long pages = stats.anonPages.get() + stats.thpFaultAlloc.get() + stats.zeroPageMaps.get();
        return new Result(config, reader.lines(), reader.records(), reader.ignoredLines(), reader.skippedLines(),
                reader.firstSkippedLine(), reader.bytesRead(), accesses, outOfRange, sigsegv, pages, tables,
                mmu.hits() + memoHits, mmu.misses(), mmu.walkMemoryRefs(), stats.pgfault.get(), nanos, interrupted);
    }

    /**
     * The trace needs more simulated RAM than --ram gives: a limit of the run the user chose,
     * not a bug (the CLI reports it as bad input naming --ram).
     */
    public static final class OutOfSimulatedRam extends RuntimeException {
        OutOfSimulatedRam(String message) {
            super(message);
        }
    }
}
