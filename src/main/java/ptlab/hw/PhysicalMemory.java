package ptlab.hw;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Simulated physical memory: sparse 4 KiB frames addressed by physical address, each frame
 * belonging to a NUMA node. This is the single source of truth of the model: page tables
 * live here as real 32/64-bit entries; the {@link PageWalker} reads them and the kernel
 * layer writes them through the same methods.
 *
 * <pre>
 *   physical address  [ directory index | chunk index | offset ]
 *                        pfn >>> 9         pfn & 0x1ff   pa & 0xfff
 *   directory: long[][][]  ->  chunk: long[512][]  ->  frame: long[512]
 * </pre>
 *
 * A frame's backing array is created on its first write (or compare-and-swap); reading an
 * untouched frame yields zero, as freshly cleared RAM would, without allocating. A lookup
 * is two array indexings: no hashing on the walk path.
 *
 * <p>Concurrency: every access goes through a {@link VarHandle} on the frame's {@code long[]}.
 * Loads by a walker use acquire semantics, stores by the kernel release semantics, and A/D
 * updates compare-and-swap, so simulated CPUs may run on several Java threads and still race
 * exactly as their hardware counterparts would. A 32-bit access is made on the naturally
 * aligned 64-bit word that contains it (little-endian, as x86: the low half is the lower
 * address); 32-bit stores and compare-and-swaps are compare-and-swap loops on that word, so
 * they never disturb the other half. Naturally aligned accesses only: an x86
 * paging-structure entry is always naturally aligned. (Java 22+ no longer offers atomic
 * access modes on {@code byte[]} views, whose elements are only byte-aligned.)
 *
 * <p>Creating a chunk or a frame is a compare-and-exchange on its slot: two threads that
 * write to untouched frames of one chunk, or to one untouched frame, at the same time agree on
 * one chunk and one array, and no write goes to an array that is then dropped. (A plain store
 * lost a chunk, and every frame in it, when two CPU threads faulted in page tables at once:
 * {@code HotPathTest.threadsFaultingTheSameTablesConcurrently}, 2 in 60 runs under load.)
 * Lookups stay plain reads: a slot only ever goes from null to its final array.
 *
 * <p>An {@link Image} is a frozen copy of a memory's contents (a booted kernel's, say); a
 * memory made from one ({@link #PhysicalMemory(Image)}) starts with those contents without
 * copying them up front: a read of a frame it has not written reads the image's array, and the
 * first write (or the walker's remembering a frame) copies that frame into the memory's own
 * slot, where it then stays. The image is never written, so a read racing that first write
 * reads the value from before it, as it would have anyway.
 */
public final class PhysicalMemory {

    public static final int PAGE_SHIFT = 12;
    public static final int PAGE_SIZE = 1 << PAGE_SHIFT;
    private static final int CHUNK_SHIFT = 9;                    // frames per chunk: 512 (2 MiB)
    private static final int CHUNK_FRAMES = 1 << CHUNK_SHIFT;

    private static final int WORDS = PAGE_SIZE / 8;
    private static final VarHandle LONG = MethodHandles.arrayElementVarHandle(long[].class);

    /**
     * Called before every access when set. Two independent slots ({@link #setAccessHook},
     * {@link #setMeter}): the simulation engine's scheduler makes each access a scheduling
     * point, a cost meter charges it; either, both or neither may be installed, and nothing
     * above this class needs to know which.
     */
    @FunctionalInterface
    public interface AccessHook {
        /** {@code op} is one of {@link #OP_LOAD}, {@link #OP_STORE}, {@link #OP_CAS}. */
        void beforeAccess(int op, long pa);

        /**
         * Whether {@link #beforeAccesses} may stand for one {@link #beforeAccess} per access:
         * true for a hook that only counts what was accessed (a cost meter), false for one that
         * acts at each access (the engine's scheduling points).
         */
        default boolean onlyCounts() {
            return false;
        }

        /** {@code n} accesses of kind {@code op} at once; called only when {@link #onlyCounts()}. */
        default void beforeAccesses(int op, int n) {
            throw new UnsupportedOperationException("hook does not count in bulk");
        }

        /**
         * Whether {@link #beforeAccess} would do nothing at all for an access made now (e.g. the
         * engine while no simulated CPU runs: a boot, a scenario's setup, a checker). Then
         * {@link #copyEntries} may copy in bulk. False unless a hook knows better.
         */
        default boolean ignoresAccessesNow() {
            return false;
        }
    }

    /**
     * Checks plain stores and exchanges before they happen (a validating hypervisor: writes to
     * pinned page tables are rejected). Locked compare-and-swaps are not checked: they are the
     * page walker's A/D updates, which hardware makes whatever the guest's mapping of the page.
     */
    @FunctionalInterface
    public interface WriteGuard {
        /** False: the write is rejected and does not happen (an exchange then returns the current value). */
        boolean allowWrite(long pa);
    }

    public static final int OP_LOAD = 0;
    public static final int OP_STORE = 1;
    public static final int OP_CAS = 2;

    private final long sizeBytes;
    private final long frameCount;           // sizeBytes >>> PAGE_SHIFT
    private final long[] nodeStart;          // nodeStart[n] = first physical address of node n
    private final long[][][] directory;
    private final AtomicLong framesTouched = new AtomicLong();   // frames are made by any thread
    private static final VarHandle CHUNK = MethodHandles.arrayElementVarHandle(long[][][].class);
    private static final VarHandle FRAME = MethodHandles.arrayElementVarHandle(long[][].class);
    /** What every access calls: the scheduler, the meter, both (a {@link Both}), or null. */
    private AccessHook hook;
    private AccessHook scheduler;
    private AccessHook meter;
    private WriteGuard guard;
    /** The frames this memory started as copies of (copied when first touched), or null. Never written. */
    private final long[][][] template;

    /**
     * A frozen copy of a memory's contents, to start other memories from ({@link #image()},
     * {@link #PhysicalMemory(Image)}). Immutable: no memory made from it writes to it, so one
     * image may serve memories on several threads.
     */
    public static final class Image {
        private final long sizeBytes;
        private final int nodes;
        private final long[][][] frames;

        private Image(long sizeBytes, int nodes, long[][][] frames) {
            this.sizeBytes = sizeBytes;
            this.nodes = nodes;
            this.frames = frames;
        }

        public long sizeBytes() {
            return sizeBytes;
        }

        public int nodes() {
            return nodes;
        }
    }

    /** Memory of {@code sizeBytes} split into {@code nodes} equal NUMA nodes. */
    public PhysicalMemory(long sizeBytes, int nodes) {
        this(sizeBytes, nodes, null);
    }

    /**
     * Memory of the image's size and nodes whose contents are the image's: each frame is copied
     * from it when first written. No hooks: they belong to a memory, not its image.
     */
    public PhysicalMemory(Image image) {
        this(image.sizeBytes, image.nodes, image.frames);
    }

    private PhysicalMemory(long sizeBytes, int nodes, long[][][] template) {
        if (sizeBytes <= 0 || (sizeBytes & (PAGE_SIZE - 1)) != 0) {
            throw new IllegalArgumentException("physical memory size must be a positive multiple of 4 KiB, got " + sizeBytes);
        }
        if (nodes < 1 || nodes > 64) {
            throw new IllegalArgumentException("NUMA node count must be 1..64, got " + nodes);
        }
        long frames = sizeBytes >>> PAGE_SHIFT;
        if (frames / nodes == 0) {
            throw new IllegalArgumentException("each of " + nodes + " nodes needs at least one frame");
        }
        this.sizeBytes = sizeBytes;
        this.frameCount = frames;
        this.nodeStart = new long[nodes];
        long framesPerNode = frames / nodes;
        for (int n = 0; n < nodes; n++) {
            nodeStart[n] = (n * framesPerNode) << PAGE_SHIFT;
        }
        long chunks = (frames + CHUNK_FRAMES - 1) >>> CHUNK_SHIFT;
        if (chunks > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("physical memory of " + sizeBytes + " bytes is too large to simulate");
        }
        this.directory = new long[(int) chunks][][];
        this.template = template;
    }

    /**
     * A frozen copy of this memory's contents now (frames never written stay absent from it, and
     * read as zero). Not an access. The caller makes sure no CPU writes meanwhile.
     */
    public Image image() {
        long[][][] frames = new long[directory.length][][];
        for (int d = 0; d < directory.length; d++) {
            if (directory[d] == null && (template == null || template[d] == null)) {
                continue;                        // 2 MiB never touched, here or in the image
            }
            for (int i = 0; i < CHUNK_FRAMES; i++) {
                long[] f = frameOfPfnOrTemplate(((long) d << CHUNK_SHIFT) | i);
                if (f != null) {
                    if (frames[d] == null) {
                        frames[d] = new long[CHUNK_FRAMES][];
                    }
                    frames[d][i] = f.clone();
                }
            }
        }
        return new Image(sizeBytes, nodeStart.length, frames);
    }

    /** The array holding frame {@code pfn}'s contents now, this memory's own or its template's; null for zeros. */
    private long[] frameOfPfnOrTemplate(long pfn) {
        long[] f = frameOfPfn(pfn);
        return f != null ? f : templateFrame(pfn);
    }

    private long[] templateFrame(long pfn) {
        if (template == null) {
            return null;
        }
        long[][] chunk = template[(int) (pfn >>> CHUNK_SHIFT)];
        return chunk == null ? null : chunk[(int) pfn & (CHUNK_FRAMES - 1)];
    }

    public PhysicalMemory(long sizeBytes) {
        this(sizeBytes, 1);
    }

    public long sizeBytes() {
        return sizeBytes;
    }

    public int nodes() {
        return nodeStart.length;
    }

    /** NUMA node of the frame holding {@code pa}. */
    public int nodeOf(long pa) {
        checkRange(pa);
        int n = nodeStart.length - 1;
        while (nodeStart[n] > pa) {
            n--;
        }
        return n;
    }

    /** First physical address of node {@code node}. */
    public long nodeStart(int node) {
        return nodeStart[node];
    }

    /** One past the last physical address of node {@code node}. */
    public long nodeEnd(int node) {
        return node + 1 < nodeStart.length ? nodeStart[node + 1] : sizeBytes;
    }

    /** Frames whose backing array exists (written at least once). */
    public long framesTouched() {
        return framesTouched.get();
    }

    /** Installs (or with null removes) the guard of plain stores. */
    public void setWriteGuard(WriteGuard g) {
        this.guard = g;
    }

    /** The scheduler's slot: a hook that acts at each access (null to remove). */
    public void setAccessHook(AccessHook scheduler) {
        this.scheduler = scheduler;
        combine();
    }

    /** The meter's slot: a hook that {@link AccessHook#onlyCounts() only counts} (null to remove). */
    public void setMeter(AccessHook meter) {
        if (meter != null && !meter.onlyCounts()) {
            throw new IllegalArgumentException("a meter must only count accesses: " + meter);
        }
        this.meter = meter;
        combine();
    }

    public AccessHook accessHook() {
        return scheduler;
    }

    public AccessHook meter() {
        return meter;
    }

    private void combine() {
        hook = scheduler == null ? meter : meter == null ? scheduler : new Both(scheduler, meter);
    }

    /** Scheduler and meter together: the meter counts the access, then the scheduler acts at it. */
    private record Both(AccessHook scheduler, AccessHook meter) implements AccessHook {
        @Override
        public void beforeAccess(int op, long pa) {
            meter.beforeAccess(op, pa);
            scheduler.beforeAccess(op, pa);
        }

        @Override
        public boolean ignoresAccessesNow() {
            return meter.ignoresAccessesNow() && scheduler.ignoresAccessesNow();
        }
    }

    // ---- 64-bit accesses ------------------------------------------------------------------

    public long loadLong(long pa) {
        beforeAccess(OP_LOAD, pa);
        long[] f = frameOrNull(pa, 7);
        return f == null ? 0 : (long) LONG.getAcquire(f, word(pa));
    }

    public void storeLong(long pa, long value) {
        beforeAccess(OP_STORE, pa);
        if (guard != null && !guard.allowWrite(pa)) {
            return;
        }
        LONG.setRelease(frameForWrite(pa, 7), word(pa), value);
    }

    public boolean compareAndSetLong(long pa, long expected, long value) {
        beforeAccess(OP_CAS, pa);
        return LONG.compareAndSet(frameForWrite(pa, 7), word(pa), expected, value);
    }

    /** Atomic exchange, as the kernel's {@code xchg}-based {@code ptep_get_and_clear}. */
    public long exchangeLong(long pa, long value) {
        beforeAccess(OP_CAS, pa);
        if (guard != null && !guard.allowWrite(pa)) {
            long[] f = frameOrNull(pa, 7);
            return f == null ? 0 : (long) LONG.getAcquire(f, word(pa));
        }
        return (long) LONG.getAndSet(frameForWrite(pa, 7), word(pa), value);
    }

    // ---- 32-bit accesses ------------------------------------------------------------------

    public int loadInt(long pa) {
        beforeAccess(OP_LOAD, pa);
        long[] f = frameOrNull(pa, 3);
        return f == null ? 0 : (int) ((long) LONG.getAcquire(f, word(pa)) >>> halfShift(pa));
    }

    public void storeInt(long pa, int value) {
        beforeAccess(OP_STORE, pa);
        if (guard != null && !guard.allowWrite(pa)) {
            return;
        }
        long[] f = frameForWrite(pa, 3);
        int i = word(pa);
        int shift = halfShift(pa);
        long mask = 0xFFFF_FFFFL << shift;
        long v;
        do {
            v = (long) LONG.getAcquire(f, i);
        } while (!LONG.compareAndSet(f, i, v, (v & ~mask) | (Integer.toUnsignedLong(value) << shift)));
    }

    public boolean compareAndSetInt(long pa, int expected, int value) {
        beforeAccess(OP_CAS, pa);
        long[] f = frameForWrite(pa, 3);
        int i = word(pa);
        int shift = halfShift(pa);
        long mask = 0xFFFF_FFFFL << shift;
        while (true) {
            long v = (long) LONG.getAcquire(f, i);
            if ((int) (v >>> shift) != expected) {
                return false;
            }
            // A failure here can only mean the other half changed: retry, as a 32-bit CAS would not fail.
            if (LONG.compareAndSet(f, i, v, (v & ~mask) | (Integer.toUnsignedLong(value) << shift))) {
                return true;
            }
        }
    }

    public int exchangeInt(long pa, int value) {
        beforeAccess(OP_CAS, pa);
        if (guard != null && !guard.allowWrite(pa)) {
            long[] f = frameOrNull(pa, 3);
            return f == null ? 0 : (int) ((long) LONG.getAcquire(f, word(pa)) >>> halfShift(pa));
        }
        long[] f = frameForWrite(pa, 3);
        int i = word(pa);
        int shift = halfShift(pa);
        long mask = 0xFFFF_FFFFL << shift;
        long v;
        do {
            v = (long) LONG.getAcquire(f, i);
        } while (!LONG.compareAndSet(f, i, v, (v & ~mask) | (Integer.toUnsignedLong(value) << shift)));
        return (int) (v >>> shift);
    }

    // ---- entry-sized accesses (4 or 8 bytes, chosen by the paging mode) -------------------

    /** Loads an entry of {@code bytes} (4 or 8) zero-extended to a long. */
    public long loadEntry(long pa, int bytes) {
        return bytes == 8 ? loadLong(pa) : Integer.toUnsignedLong(loadInt(pa));
    }

    /**
     * {@code out[i] = loadEntry(pas[i], bytes)} for i in [0, n): a gather of independent loads,
     * e.g. one entry from each pgd on pgd_list. Each is an access as in loadEntry; when the hook
     * {@link AccessHook#onlyCounts() only counts}, it is told of all n at once, so the loop is
     * just the loads and the host CPU can have many of them in flight.
     */
    public void loadEntries(long[] pas, int n, int bytes, long[] out) {
        if (scheduler != null) {
            for (int i = 0; i < n; i++) {
                out[i] = loadEntry(pas[i], bytes);
            }
            return;
        }
        AccessHook m = meter;
        if (m != null) {
            m.beforeAccesses(OP_LOAD, n);
        }
        int align = bytes - 1;
        long entryMask = bytes == 8 ? -1L : 0xFFFF_FFFFL;
        for (int i = 0; i < n; i++) {
            long pa = pas[i];
            long[] f = frameOrNull(pa, align);
            out[i] = f == null ? 0 : ((long) LONG.getAcquire(f, word(pa)) >>> halfShift(pa)) & entryMask;
        }
    }

    public void storeEntry(long pa, int bytes, long value) {
        if (bytes == 8) {
            storeLong(pa, value);
        } else {
            storeInt(pa, (int) value);
        }
    }

    public boolean compareAndSetEntry(long pa, int bytes, long expected, long value) {
        return bytes == 8 ? compareAndSetLong(pa, expected, value)
                : compareAndSetInt(pa, (int) expected, (int) value);
    }

    public long exchangeEntry(long pa, int bytes, long value) {
        return bytes == 8 ? exchangeLong(pa, value) : Integer.toUnsignedLong(exchangeInt(pa, (int) value));
    }

    // ---- walker fast path ---------------------------------------------------------------------

    /**
     * The backing array of the frame holding {@code pa}, or null if the frame was never written.
     * A frame's array, once created, is never replaced or released (zeroing and copying work in
     * place), so a caller may keep it and read through {@link #loadEntry(long[], long, int)}
     * later: the {@link PageWalker} remembers the last frame it read at each level this way.
     * No access hook call: this is not an access.
     */
    long[] frameIfBacked(long pa) {
        long[] f = ownFrame(pa, 0);
        if (f != null) {
            return f;
        }
        long[] t = templateFrame(pa >>> PAGE_SHIFT);
        return t == null ? null : createFrame(pa, t);   // the caller keeps it: this memory's own copy
    }

    /**
     * {@link #frameIfBacked} by frame number, small enough to inline into the walk loop: null
     * when the frame is unbacked or outside memory (the caller then takes the checked path,
     * which reads zero or throws). Not an access.
     */
    long[] frameOfPfn(long pfn) {
        long[][] chunk;
        if (pfn >= frameCount || (chunk = directory[(int) (pfn >>> CHUNK_SHIFT)]) == null) {
            return null;
        }
        return chunk[(int) pfn & (CHUNK_FRAMES - 1)];
    }

    /**
     * {@link #loadEntry(long, int)} of the entry at byte {@code offset} of {@code frame}, which
     * must be {@link #frameIfBacked(long) frameIfBacked(pa)} for the entry's address pa, with
     * {@code offset = pa & 0xFFF} naturally aligned for the entry and no access hook installed
     * ({@link #hasAccessHook()}): the same acquire load, without the directory lookup, the
     * checks and the hook test. {@code entryMask} is -1 for 8-byte entries, 0xFFFF_FFFF for
     * 4-byte ones (an aligned 8-byte entry has {@code offset & 4 == 0}: no shift).
     */
    static long loadEntryUnhooked(long[] frame, int offset, long entryMask) {
        long v = (long) LONG.getAcquire(frame, offset >>> 3);
        return (v >>> ((offset & 4) << 3)) & entryMask;
    }

    /**
     * Whether no hook acts at an access (none, or one that {@link AccessHook#onlyCounts() only
     * counts}): then the order of independent loads cannot matter to anyone but the host CPU.
     */
    public boolean accessesOnlyCounted() {
        return scheduler == null;
    }

    /** Whether an access hook is installed: then every access must go through the public methods. */
    boolean hasAccessHook() {
        return hook != null;
    }

    // ---- ranges of entries ----------------------------------------------------------------------

    /**
     * Copies {@code count} entries of {@code bytes} (4 or 8) from {@code fromPa} to {@code toPa},
     * within one frame each (a memcpy of page-table entries, as clone_pgd_range): entry by entry,
     * a load then a store, each an access the hooks see, as a loop of {@link #loadEntry} and
     * {@link #storeEntry} would make. When the installed hook would do nothing with any of them
     * now ({@link AccessHook#ignoresAccessesNow}: the engine while no simulated CPU runs) and no
     * write guard is installed, the 8-byte entries are copied as one array copy instead, with the
     * same result in memory. No hook at all (free-running CPU threads) takes the entry loop, whose
     * loads and stores order against other threads.
     */
    public void copyEntries(long fromPa, long toPa, int count, int bytes) {
        AccessHook h = hook;
        long span = (long) count * bytes;
        boolean bulk = h != null && h.ignoresAccessesNow() && guard == null && bytes == 8 && count > 0
                && ((fromPa | toPa) & 7) == 0
                && (fromPa & ~(long) (PAGE_SIZE - 1)) == ((fromPa + span - 1) & ~(long) (PAGE_SIZE - 1))
                && (toPa & ~(long) (PAGE_SIZE - 1)) == ((toPa + span - 1) & ~(long) (PAGE_SIZE - 1));
        if (!bulk) {
            for (int i = 0; i < count; i++) {
                storeEntry(toPa + (long) i * bytes, bytes, loadEntry(fromPa + (long) i * bytes, bytes));
            }
            return;
        }
        long[] src = frameOrNull(fromPa, 7);
        frameOrNull(fromPa + span - 8, 7);                  // range checks of the last entries
        ownFrame(toPa + span - 8, 7);
        if (src == null && frameOrNull(toPa, 7) == null) {
            return;                                         // zeros onto zeros
        }
        long[] dst = frameForWrite(toPa, 7);
        if (src == null) {
            java.util.Arrays.fill(dst, word(toPa), word(toPa) + count, 0L);
        } else {
            System.arraycopy(src, word(fromPa), dst, word(toPa), count);
        }
    }

    // ---- whole frames -----------------------------------------------------------------------

    /**
     * Zeroes the 4 KiB frame containing {@code pa} (clear_page). Untouched frames stay unbacked.
     * One scheduling point per frame for a hook that acts at accesses; a hook that only counts
     * is told of all 512 stores (a cost meter charges clear_page as what it is).
     */
    public void zeroFrame(long pa) {
        beforeAccess(OP_STORE, pa & ~(long) (PAGE_SIZE - 1));
        AccessHook h = hook;
        if (h != null && h.onlyCounts()) {
            h.beforeAccesses(OP_STORE, WORDS - 1);
        }
        clearBacking(pa);
    }

    private void clearBacking(long pa) {
        long[] f = ownFrame(pa, 0);
        if (f != null) {
            java.util.Arrays.fill(f, 0L);
        } else if (templateFrame(pa >>> PAGE_SHIFT) != null) {
            createFrame(pa, null);                   // the image's contents are not copied only to be cleared
        }
    }

    /**
     * Copies a whole frame (copy_page). One scheduling point per frame for a hook that acts at
     * accesses; a hook that only counts is told of all 512 loads and 512 stores (a cost meter
     * charges a page copy as what it is, e.g. PAE's pgd_prepopulate_pmd under pgd_lock).
     */
    public void copyFrame(long fromPa, long toPa) {
        beforeAccess(OP_LOAD, fromPa & ~(long) (PAGE_SIZE - 1));
        beforeAccess(OP_STORE, toPa & ~(long) (PAGE_SIZE - 1));
        if (guard != null && !guard.allowWrite(toPa)) {
            return;
        }
        AccessHook h = hook;
        if (h != null && h.onlyCounts()) {
            h.beforeAccesses(OP_LOAD, WORDS - 1);
            h.beforeAccesses(OP_STORE, WORDS - 1);
        }
        long[] src = frameOrNull(fromPa, 0);
        if (src == null) {
            clearBacking(toPa);                          // the 512 stores were counted above
            return;
        }
        System.arraycopy(src, 0, frameForWrite(toPa, 0), 0, WORDS);
    }

    /**
     * A hash of the whole memory's contents (every nonzero word with its address), for tests
     * that compare two runs' final states. Not an access; not for hot paths.
     */
    public long contentHash() {
        long h = 0;
        for (int d = 0; d < directory.length; d++) {
            if (directory[d] == null && (template == null || template[d] == null)) {
                continue;
            }
            for (int i = 0; i < CHUNK_FRAMES; i++) {
                long[] f = frameOfPfnOrTemplate(((long) d << CHUNK_SHIFT) | i);
                if (f == null) {
                    continue;
                }
                long base = ((long) d << CHUNK_SHIFT | i) << PAGE_SHIFT;
                for (int w = 0; w < WORDS; w++) {
                    long v = (long) LONG.getAcquire(f, w);
                    if (v != 0) {
                        long x = (base + 8L * w) * 0x9E37_79B9_7F4A_7C15L ^ v;
                        h += x ^ (x >>> 29) * 0xBF58_476D_1CE4_E5B9L;
                    }
                }
            }
        }
        return h;
    }

    /**
     * Reads the whole 4 KiB frame containing {@code pa} into {@code out} (512 words) as one
     * access, as a kernel loop over a page's entries that no other CPU's step is ordered
     * inside of (copy_page's reads; a scan merging A/D bits).
     */
    public void readFrame(long pa, long[] out) {
        beforeAccess(OP_LOAD, pa & ~(long) (PAGE_SIZE - 1));
        long[] src = frameOrNull(pa, 0);
        if (src == null) {
            java.util.Arrays.fill(out, 0, WORDS, 0L);
        } else {
            for (int i = 0; i < WORDS; i++) {
                out[i] = (long) LONG.getAcquire(src, i);
            }
        }
    }

    /**
     * Copies the 4 KiB frame containing {@code pa} into {@code out} (512 words) without being an
     * access: for a checker that runs while no simulated CPU does (the end-of-schedule leak
     * check), which nothing can race and nothing should charge or schedule.
     */
    public void peekFrame(long pa, long[] out) {
        long[] src = frameOrNull(pa, 0);
        if (src == null) {
            java.util.Arrays.fill(out, 0, WORDS, 0L);
        } else {
            System.arraycopy(src, 0, out, 0, WORDS);
        }
    }

    // ---- internals ----------------------------------------------------------------------------

    private void beforeAccess(int op, long pa) {
        AccessHook h = hook;
        if (h != null) {
            h.beforeAccess(op, pa);
        }
    }

    /** Index of the 64-bit word holding {@code pa} within its frame. */
    private static int word(long pa) {
        return ((int) pa & (PAGE_SIZE - 1)) >>> 3;
    }

    /** 0 for the low (lower-addressed) half of a word, 32 for the high half. */
    private static int halfShift(long pa) {
        return ((int) pa & 4) << 3;
    }

    private void checkRange(long pa) {
        if (pa < 0 || pa >= sizeBytes) {
            throw new IllegalArgumentException(String.format(
                    "physical address 0x%x is outside memory of 0x%x bytes", pa, sizeBytes));
        }
    }

    private void checkAccess(long pa, int alignMask) {
        if ((pa & alignMask) != 0) {
            throw new IllegalArgumentException(String.format(
                    "misaligned %d-byte access at physical address 0x%x", alignMask + 1, pa));
        }
        checkRange(pa);
    }

    /**
     * The array holding the contents of the frame of {@code pa} for a read that does not keep it:
     * this memory's own, else its image's (which must not be written), else null (zeros).
     */
    private long[] frameOrNull(long pa, int alignMask) {
        long[] f = ownFrame(pa, alignMask);
        return f != null || template == null ? f : templateFrame(pa >>> PAGE_SHIFT);
    }

    /** This memory's own array for the frame of {@code pa}, or null; never the image's. Checks range and alignment. */
    private long[] ownFrame(long pa, int alignMask) {
        if (pa < 0 || pa >= sizeBytes || (pa & alignMask) != 0) {
            checkAccess(pa, alignMask);
        }
        long pfn = pa >>> PAGE_SHIFT;
        long[][] chunk = directory[(int) (pfn >>> CHUNK_SHIFT)];
        return chunk == null ? null : chunk[(int) pfn & (CHUNK_FRAMES - 1)];
    }

    /** The frame's own array, made on first use: zeroed, or a copy of the image's frame if it has one. */
    private long[] frameForWrite(long pa, int alignMask) {
        long[] f = ownFrame(pa, alignMask);
        return f != null ? f : createFrame(pa, templateFrame(pa >>> PAGE_SHIFT));
    }

    /**
     * Makes the frame's array, zeroed or a copy of {@code contents}, and its chunk if need be;
     * returns the one that is in place.
     */
    private long[] createFrame(long pa, long[] contents) {
        long pfn = pa >>> PAGE_SHIFT;
        int d = (int) (pfn >>> CHUNK_SHIFT);
        long[][] chunk = (long[][]) CHUNK.getAcquire(directory, d);
        if (chunk == null) {
            long[][] fresh = new long[CHUNK_FRAMES][];
            long[][] there = (long[][]) CHUNK.compareAndExchange(directory, d, null, fresh);
            chunk = there == null ? fresh : there;
        }
        long[] f = contents == null ? new long[WORDS] : contents.clone();
        long[] there = (long[]) FRAME.compareAndExchange(chunk, (int) pfn & (CHUNK_FRAMES - 1), null, f);
        if (there != null) {
            return there;                       // another thread made it first
        }
        framesTouched.incrementAndGet();
        return f;
    }
}
