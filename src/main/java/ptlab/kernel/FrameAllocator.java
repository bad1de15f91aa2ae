package ptlab.kernel;

import java.util.ArrayList;
import java.util.List;

import ptlab.hw.PhysicalMemory;

/**
 * The page allocator (Linux v6.6 mm/page_alloc.c, reduced): hands out 4 KiB frames of {@link PhysicalMemory}, per NUMA node and zone,
 * and 2 MiB blocks (order 9, for transparent huge pages). A two-order buddy allocator:
 *
 * <pre>
 *   free_area[node][zone]:  order-0 list  (doubly linked through each frame's next/prev, O(1) push/unlink)
 *                           order-9 list  (whole free 2 MiB blocks, doubly linked through next9[]/prev9[] by block)
 *   alloc order 0: pop the order-0 list; empty: split one order-9 block onto it (512 pushes, amortised)
 *   free  order 0: push; when all 512 frames of a block are free again, merge it back to order 9
 * </pre>
 *
 * Zones: frames below {@code lowmemEnd} are ZONE_NORMAL, the rest ZONE_HIGHMEM (x86-32 only).
 * Kernel allocations (page tables, slab) come from ZONE_NORMAL; user pages prefer HIGHMEM
 * (GFP_HIGHUSER). A node with no free frame falls back to the others in order, as a zonelist.
 *
 * <p>Per frame it keeps what {@code struct page} keeps that the model needs: the use, the
 * page-table level, and the reference count ({@code page_count}) that copy-on-write reads.
 * These live in one {@link Pages} per 2 MiB block, made when the block is first split or holds a
 * reserved frame: a block that has only ever been whole and free needs none (all zero: FREE,
 * level 0, count 0), so booting touches O(blocks), not O(frames). The explorer boots a kernel per
 * schedule; per-frame arrays over all of RAM were most of that boot's time and allocation.
 * Frames returned are zeroed. {@link #allocFrame} returns -1 when memory is exhausted (the
 * caller turns that into VM_FAULT_OOM or -ENOMEM, as Linux's NULL page).
 *
 * <p>Concurrency: the free lists and per-frame metadata are guarded by the monitor of this
 * object (the zone lock, {@code zone->lock}); the refcount operations take it too, so a freeing
 * put_page cannot race a get_page on another CPU. Invariant: nothing inside the zone lock
 * touches {@link PhysicalMemory}. As in Linux, where {@code rmqueue()} drops {@code zone->lock}
 * before {@code post_alloc_hook()} clears the page, a frame is taken under the lock and cleared
 * after it. This matters to the simulator: a simulated-memory access is a scheduling point
 * where the simulated CPU may be suspended, and a Java monitor held across that suspension
 * would block the next simulated CPU (all run on one Java thread) forever.
 */
public final class FrameAllocator {

    /** A free of a frame that is not allocated (double free) or reserved: a kernel bug, named by address. */
    public static final class BadFree extends IllegalStateException {
        public BadFree(String message) {
            super(message);
        }
    }

    public static final int ZONE_NORMAL = 0;
    public static final int ZONE_HIGHMEM = 1;
    private static final int ZONES = 2;

    /** HPAGE_PMD_ORDER: 2 MiB / 4 KiB. */
    public static final int HUGE_ORDER = 9;
    private static final int BLOCK_FRAMES = 1 << HUGE_ORDER;
    private static final int NIL = -1;

    /** X86_RESERVE_LOW default: the first 64 KiB are never handed out (arch/x86/kernel/setup.c). */
    public static final long RESERVE_LOW = 64 << 10;
    /** CONFIG_PHYSICAL_START default 0x1000000: where the kernel image is loaded. */
    public static final long PHYSICAL_START = 0x100_0000L;

    private final PhysicalMemory memory;
    private final int frames;
    private final int nodes;
    private final long lowmemEnd;

    /** struct page of the 512 frames of one block; null while the block has only been whole and free. */
    private static final class Pages {
        final byte[] use;           // FrameUse ordinal
        final byte[] ptLevel;       // hardware level of a PAGE_TABLE frame (1..5)
        final int[] refcount;       // page_count()
        final boolean[] anonExclusive;   // PG_anon_exclusive of a user page
        final int[] next;           // order-0 free-list links, as pfns
        final int[] prev;

        Pages() {
            use = new byte[BLOCK_FRAMES];
            ptLevel = new byte[BLOCK_FRAMES];
            refcount = new int[BLOCK_FRAMES];
            anonExclusive = new boolean[BLOCK_FRAMES];
            next = new int[BLOCK_FRAMES];
            prev = new int[BLOCK_FRAMES];
        }

        /** A copy of {@code p}: nothing is shared. */
        Pages(Pages p) {
            use = p.use.clone();
            ptLevel = p.ptLevel.clone();
            refcount = p.refcount.clone();
            anonExclusive = p.anonExclusive.clone();
            next = p.next.clone();
            prev = p.prev.clone();
        }
    }

    private final Pages[] pages;       // by block
    /** The use of every frame of a block without pages: FREE, or a whole block of kernel image. */
    private final byte[] blockUse;
    private final int[] next9;         // order-9 free-list links, as blocks
    private final int[] prev9;
    private final short[] blockFree;   // free frames in each 2 MiB block
    private final boolean[] blockMergeable; // block lies in one node and zone and has no reserved frame

    private final int[] head0;         // [node * ZONES + zone]
    private final int[] head9;
    private final long[] free0;        // frames on each order-0 list
    private final long[] free9;        // blocks on each order-9 list

    private final long[] inUse;
    private final long[] pageTablesPerLevel;
    private long allocations;
    private long frees;
    private final long reservedFrames;
    /** The kernel image's frames [imageStart, imageEnd). */
    private int imageStart;
    private int imageEnd;
    private final Interleaving il;

    /**
     * @param lowmemEnd  first physical address of ZONE_HIGHMEM (the RAM size when there is none)
     * @param imageBytes size of the kernel image reserved at {@link #PHYSICAL_START}
     */
    public FrameAllocator(PhysicalMemory memory, long lowmemEnd, long imageBytes) {
        this(memory, lowmemEnd, imageBytes, Interleaving.NONE);
    }

    /**
     * An allocator whose every allocation, free and reference-count change is announced to
     * {@code il} first ({@link Interleaving#beforeAllocator}; its free lists and counts are shared
     * by all CPUs): so which CPU gets which frame is decided by the schedule, never by Java code
     * running between two scheduling points. The point comes before the Java monitor
     * is taken (nothing may suspend a CPU inside it).
     */
    public FrameAllocator(PhysicalMemory memory, long lowmemEnd, long imageBytes, Interleaving il) {
        this.il = il;
        long f = memory.sizeBytes() >>> PhysicalMemory.PAGE_SHIFT;
        if (f > Integer.MAX_VALUE / 2) {
            throw new IllegalArgumentException("RAM of " + memory.sizeBytes() + " bytes is too large for the frame allocator");
        }
        this.memory = memory;
        this.frames = (int) f;
        this.nodes = memory.nodes();
        this.lowmemEnd = Math.min(lowmemEnd, memory.sizeBytes());
        int blocks = (frames + BLOCK_FRAMES - 1) / BLOCK_FRAMES;
        pages = new Pages[blocks];
        blockUse = new byte[blocks];
        next9 = new int[blocks];
        prev9 = new int[blocks];
        blockFree = new short[blocks];
        blockMergeable = new boolean[blocks];
        head0 = new int[nodes * ZONES];
        head9 = new int[nodes * ZONES];
        free0 = new long[nodes * ZONES];
        free9 = new long[nodes * ZONES];
        java.util.Arrays.fill(head0, NIL);
        java.util.Arrays.fill(head9, NIL);
        inUse = new long[FrameUse.VALUES.length];
        pageTablesPerLevel = new long[6];
        reservedFrames = reserveBootMemory(imageBytes);
        buildFreeLists();
    }

    /**
     * A copy of everything {@code booted} knows — free lists, struct pages, counts — managing
     * {@code memory}, which must start as a copy of {@code booted}'s memory at the same moment:
     * a booted kernel restored for another run ({@link KernelImage}). Nothing is shared with
     * {@code booted}; the copy's allocations, frees and reference-count changes go to {@code il}.
     */
    FrameAllocator(FrameAllocator booted, PhysicalMemory memory, Interleaving il) {
        if (memory.sizeBytes() != booted.memory.sizeBytes() || memory.nodes() != booted.nodes) {
            throw new IllegalArgumentException("memory of " + memory.sizeBytes() + " bytes on " + memory.nodes()
                    + " nodes is not a copy of the booted allocator's (" + booted.memory.sizeBytes() + " bytes, "
                    + booted.nodes + " nodes)");
        }
        synchronized (booted) {
            this.il = il;
            this.memory = memory;
            this.frames = booted.frames;
            this.nodes = booted.nodes;
            this.lowmemEnd = booted.lowmemEnd;
            this.pages = new Pages[booted.pages.length];
            for (int b = 0; b < pages.length; b++) {
                pages[b] = booted.pages[b] == null ? null : new Pages(booted.pages[b]);
            }
            this.blockUse = booted.blockUse.clone();
            this.next9 = booted.next9.clone();
            this.prev9 = booted.prev9.clone();
            this.blockFree = booted.blockFree.clone();
            this.blockMergeable = booted.blockMergeable.clone();
            this.head0 = booted.head0.clone();
            this.head9 = booted.head9.clone();
            this.free0 = booted.free0.clone();
            this.free9 = booted.free9.clone();
            this.inUse = booted.inUse.clone();
            this.pageTablesPerLevel = booted.pageTablesPerLevel.clone();
            this.allocations = booted.allocations;
            this.frees = booted.frees;
            this.reservedFrames = booted.reservedFrames;
            this.imageStart = booted.imageStart;
            this.imageEnd = booted.imageEnd;
        }
    }

    // ---- boot: memblock reservations and free_area_init ------------------------------------

    /** memblock_reserve() of the low 64 KiB and of the kernel image; returns frames reserved. */
    private long reserveBootMemory(long imageBytes) {
        int low = (int) Math.min(frames, RESERVE_LOW >>> PhysicalMemory.PAGE_SHIFT);
        markReserved(0, low, FrameUse.RESERVED);
        long imageFrames = (imageBytes + PhysicalMemory.PAGE_SIZE - 1) >>> PhysicalMemory.PAGE_SHIFT;
        // Small test machines: load the image right after the low reserve instead of at 16 MiB.
        long start = PHYSICAL_START + imageBytes + (4L << 20) <= memory.sizeBytes() ? PHYSICAL_START : RESERVE_LOW;
        int first = (int) (start >>> PhysicalMemory.PAGE_SHIFT);
        if (first + imageFrames > frames) {
            throw new IllegalArgumentException("kernel image of " + imageBytes + " bytes does not fit in RAM of "
                    + memory.sizeBytes() + " bytes");
        }
        markReserved(first, (int) (first + imageFrames), FrameUse.KERNEL_IMAGE);
        inUse[FrameUse.RESERVED.ordinal()] = low;
        inUse[FrameUse.KERNEL_IMAGE.ordinal()] = imageFrames;
        imageStart = first;
        imageEnd = (int) (first + imageFrames);
        return low + imageFrames;
    }

    /**
     * Frames [from, to) reserved for {@code u}. A whole block of them needs no pages: reserved
     * frames are never allocated or freed.
     */
    private void markReserved(int from, int to, FrameUse u) {
        for (int pfn = from; pfn < to; ) {
            // Mutation testing: a mutant of this condition that only sends a whole block down the
            // per-frame path is equivalent (reserved frames read the same from pages as from
            // blockUse; only boot's cost differs).
            if ((pfn & (BLOCK_FRAMES - 1)) == 0 && pfn + BLOCK_FRAMES <= to && pages[pfn / BLOCK_FRAMES] == null) {
                blockUse[pfn / BLOCK_FRAMES] = (byte) u.ordinal();
                pfn += BLOCK_FRAMES;
            } else {
                pagesFor(pfn).use[pfn & (BLOCK_FRAMES - 1)] = (byte) u.ordinal();
                pfn++;
            }
        }
    }

    /**
     * free_area_init + memblock_free_all: every unreserved frame onto its free list. A whole
     * 2 MiB block with no reserved frame, in one node and zone, goes onto the order-9 list as
     * one entry; only the frames of the other blocks are pushed one by one (most of RAM is in
     * whole blocks, so boot does not visit every frame).
     */
    private void buildFreeLists() {
        int low = (int) Math.min(frames, RESERVE_LOW >>> PhysicalMemory.PAGE_SHIFT);
        for (int b = 0; b < blockFree.length; b++) {
            int first = b * BLOCK_FRAMES;
            int end = Math.min(frames, first + BLOCK_FRAMES);
            // Lists are contiguous pfn ranges (nodes ascend, HIGHMEM starts at one address), so a
            // block lies in one list when its first and last frames do.
            int list = listOf(first);
            boolean oneList = listOf(end - 1) == list;
            int free = end - first - overlap(first, end, 0, low) - overlap(first, end, imageStart, imageEnd);
            blockMergeable[b] = end - first == BLOCK_FRAMES && oneList && free == BLOCK_FRAMES;
            blockFree[b] = (short) free;
            if (blockMergeable[b]) {
                push9(list, first);
            } else if (oneList) {
                if (free > 0) {
                    pushFreeFramesOf(list, first, end);
                }
            } else {
                for (int pfn = end - 1; pfn >= first; pfn--) {
                    if (use(pfn) == 0) {
                        push0(listOf(pfn), pfn);
                    }
                }
            }
        }
    }

    /**
     * What pushing the free frames of [first, end) one by one from the last down to the first
     * (push0) leaves, in one pass over the block: the list starts with those frames in ascending
     * order, followed by what it held before. All of them are on {@code list}.
     */
    private void pushFreeFramesOf(int list, int first, int end) {
        Pages p = pagesFor(first);
        int firstFree = NIL;
        int last = NIL;
        int n = 0;
        for (int pfn = first; pfn < end; pfn++) {
            int i = pfn - first;
            if (p.use[i] != 0) {
                continue;
            }
            p.prev[i] = last;
            if (last == NIL) {
                firstFree = pfn;
            } else {
                p.next[last - first] = pfn;
            }
            last = pfn;
            n++;
        }
        int h = head0[list];
        p.next[last - first] = h;
        // Mutation testing: dropping this back link is equivalent: at boot only frames of
        // unmergeable blocks are on order-0 lists, which leave them only by pop0 at the head, so
        // h is unlinked only after `last`, whose unlink sets h's prev either way.
        if (h != NIL) {
            setPrev(h, last);
        }
        head0[list] = firstFree;
        free0[list] += n;
    }

    /** Frames of [a, b) inside [c, d). */
    private static int overlap(int a, int b, int c, int d) {
        return Math.max(0, Math.min(b, d) - Math.max(a, c));
    }

    // ---- allocation ---------------------------------------------------------------------------

    /**
     * alloc_pages_node(node, GFP_*, 0) and clear_page: a zeroed frame for {@code use}, on
     * {@code node} if it has one, else on the next node with free memory. Returns its physical
     * address, or -1 when every node is exhausted.
     */
    public long allocFrame(int node, FrameUse use) {
        if (use == FrameUse.PAGE_TABLE) {
            throw new IllegalArgumentException("page-table pages are allocated with allocPageTable(node, level)");
        }
        il.beforeAllocator();
        long pa = rmqueue(node, use, 0);
        if (pa >= 0) {   // (> 0 is an equivalent mutant: frame 0 is reserved, never handed out)
            il.frameAllocated(pa);
            memory.zeroFrame(pa);
        }
        return pa;
    }

    /** pagetable_alloc(): a zeroed, backed frame for a page table of hardware level {@code level}. */
    public long allocPageTable(int node, int level) {
        if (level < 1 || level > 5) {
            throw new IllegalArgumentException("page-table level must be 1..5, got " + level);
        }
        il.beforeAllocator();
        long pa = rmqueue(node, FrameUse.PAGE_TABLE, level);
        if (pa >= 0) {   // (> 0 is an equivalent mutant: frame 0 is reserved)
            il.frameAllocated(pa);
            memory.zeroFrame(pa);
            // Back the frame now: walkers on other threads may read it as soon as it is published.
            memory.storeLong(pa, 0);
        }
        return pa;
    }

    /** rmqueue(): takes an order-0 frame off the free lists under the zone lock; not yet cleared. */
    private synchronized long rmqueue(int node, FrameUse use, int level) {
        return allocOrder0(node, use, level);
    }

    /**
     * alloc_pages(GFP_TRANSHUGE, HPAGE_PMD_ORDER): 512 contiguous, 2 MiB-aligned, zeroed user
     * frames, each with refcount 1, or -1 (no compaction: the caller falls back to 4 KiB pages).
     */
    public long allocHugeUser(int node) {
        il.beforeAllocator();
        long pa = rmqueueHuge(node);
        if (pa >= 0) {   // (> 0 is an equivalent mutant: block 0 holds the reserved low 64 KiB)
            for (int i = 0; i < BLOCK_FRAMES; i++) {   // clear_huge_page(), after the zone lock
                il.frameAllocated(pa + ((long) i << PhysicalMemory.PAGE_SHIFT));
                memory.zeroFrame(pa + ((long) i << PhysicalMemory.PAGE_SHIFT));
            }
        }
        return pa;
    }

    /** rmqueue() of an order-9 block under the zone lock; not yet cleared. */
    private synchronized long rmqueueHuge(int node) {
        // (i <= nodes is an equivalent mutant: it revisits `node`, found empty under this lock)
        for (int i = 0; i < nodes; i++) {
            int n = (node + i) % nodes;
            for (int zone = ZONES - 1; zone >= 0; zone--) {
                int list = n * ZONES + zone;
                if (head9[list] != NIL) {
                    int first = pop9(list);
                    blockFree[first / BLOCK_FRAMES] = 0;
                    for (int pfn = first; pfn < first + BLOCK_FRAMES; pfn++) {
                        take(pfn, FrameUse.USER, 0);
                    }
                    return (long) first << PhysicalMemory.PAGE_SHIFT;
                }
            }
        }
        return -1;
    }

    private long allocOrder0(int node, FrameUse use, int level) {
        if (node < 0 || node >= nodes) {
            throw new IllegalArgumentException("NUMA node " + node + " does not exist (nodes: " + nodes + ")");
        }
        boolean user = use == FrameUse.USER;
        // (i <= nodes is an equivalent mutant: it revisits `node`, found empty under this lock)
        for (int i = 0; i < nodes; i++) {
            int n = (node + i) % nodes;
            // GFP_HIGHUSER may use HIGHMEM first; GFP_KERNEL only ZONE_NORMAL.
            for (int zone = user ? ZONE_HIGHMEM : ZONE_NORMAL; zone >= ZONE_NORMAL; zone--) {
                int pfn = allocFromList(n * ZONES + zone);
                if (pfn != NIL) {
                    blockFree[pfn / BLOCK_FRAMES]--;
                    take(pfn, use, level);
                    return (long) pfn << PhysicalMemory.PAGE_SHIFT;
                }
            }
        }
        return -1;
    }

    private int allocFromList(int list) {
        if (head0[list] == NIL) {
            if (head9[list] == NIL) {
                return NIL;
            }
            splitBlock(list, pop9(list));
        }
        return pop0(list);
    }

    /** expand(): an order-9 block becomes 512 order-0 frames. */
    private void splitBlock(int list, int first) {
        for (int pfn = first + BLOCK_FRAMES - 1; pfn >= first; pfn--) {
            push0(list, pfn);
        }
    }

    private void take(int pfn, FrameUse u, int level) {
        Pages p = pagesFor(pfn);
        int i = pfn & (BLOCK_FRAMES - 1);
        p.use[i] = (byte) u.ordinal();
        p.ptLevel[i] = (byte) level;
        p.refcount[i] = 1;
        inUse[u.ordinal()]++;
        if (u == FrameUse.PAGE_TABLE) {
            pageTablesPerLevel[level]++;
        }
        allocations++;
    }

    // ---- freeing ------------------------------------------------------------------------------

    /**
     * __free_page(): returns the frame at {@code pa} whatever its refcount. Throws, naming the
     * address, on a double free, a reserved frame, or an address that is not a frame.
     */
    public void freeFrame(long pa) {
        il.beforeAllocator();
        freeFrameLocked(pa);
        il.frameFreed(pa);
    }

    private synchronized void freeFrameLocked(long pa) {
        int pfn = checkAllocated(pa, "free");
        release(pfn);
    }

    private void release(int pfn) {
        Pages p = pages[pfn / BLOCK_FRAMES];     // allocated, so its block has pages
        int i = pfn & (BLOCK_FRAMES - 1);
        FrameUse u = FrameUse.VALUES[p.use[i]];
        inUse[u.ordinal()]--;
        if (u == FrameUse.PAGE_TABLE) {
            pageTablesPerLevel[p.ptLevel[i]]--;
        }
        p.use[i] = (byte) FrameUse.FREE.ordinal();
        p.ptLevel[i] = 0;
        p.refcount[i] = 0;
        p.anonExclusive[i] = false;
        frees++;
        int list = listOf(pfn);
        push0(list, pfn);
        int b = pfn / BLOCK_FRAMES;
        if (++blockFree[b] == BLOCK_FRAMES && blockMergeable[b]) {
            mergeBlock(list, b * BLOCK_FRAMES);
        }
    }

    /** __free_one_page() merging to order 9: all 512 frames leave the order-0 list. */
    private void mergeBlock(int list, int first) {
        for (int pfn = first; pfn < first + BLOCK_FRAMES; pfn++) {
            unlink0(list, pfn);
        }
        push9(list, first);
    }

    private int checkAllocated(long pa, String what) {
        if (pa < 0 || pa >= memory.sizeBytes() || (pa & (PhysicalMemory.PAGE_SIZE - 1)) != 0) {
            throw new IllegalArgumentException(String.format("%s of 0x%x: not the address of a frame", what, pa));
        }
        int pfn = (int) (pa >>> PhysicalMemory.PAGE_SHIFT);
        FrameUse u = FrameUse.VALUES[use(pfn)];
        if (u == FrameUse.FREE) {
            throw new BadFree(String.format("%s of frame 0x%x which is not allocated (double free?)", what, pa));
        }
        if (u == FrameUse.RESERVED || u == FrameUse.KERNEL_IMAGE) {
            throw new BadFree(String.format("%s of reserved frame 0x%x (%s)", what, pa, u));
        }
        return pfn;
    }

    // ---- reference counts (struct page _refcount) ------------------------------------------------

    /** get_page(). */
    public void getPage(long pa) {
        il.beforeAllocator();
        getPageLocked(pa);
    }

    private synchronized void getPageLocked(long pa) {
        int pfn = checkAllocated(pa, "get_page");
        pages[pfn / BLOCK_FRAMES].refcount[pfn & (BLOCK_FRAMES - 1)]++;
    }

    /** put_page(): drops a reference; frees the frame at zero and returns true then. */
    public boolean putPage(long pa) {
        il.beforeAllocator();
        boolean freed = putPageLocked(pa);
        if (freed) {
            il.frameFreed(pa);
        }
        return freed;
    }

    private synchronized boolean putPageLocked(long pa) {
        int pfn = checkAllocated(pa, "put_page");
        int[] refcount = pages[pfn / BLOCK_FRAMES].refcount;
        int i = pfn & (BLOCK_FRAMES - 1);
        // (< 0 is an equivalent mutant: an allocated frame's refcount is >= 1; 0 means FREE,
        // which checkAllocated already rejected)
        if (refcount[i] <= 0) {
            throw new IllegalStateException(String.format("put_page of frame 0x%x with refcount %d", pa, refcount[i]));
        }
        if (--refcount[i] == 0) {
            release(pfn);
            return true;
        }
        return false;
    }

    /**
     * SetPageAnonExclusive / ClearPageAnonExclusive (Linux v6.6 include/linux/page-flags.h): this
     * anonymous page is mapped by exactly one process, which may write it without copying.
     */
    public synchronized void setAnonExclusive(long pa, boolean exclusive) {
        int pfn = checkAllocated(pa, "PageAnonExclusive");
        pagesFor(pfn).anonExclusive[pfn & (BLOCK_FRAMES - 1)] = exclusive;
    }

    /** PageAnonExclusive(). */
    public synchronized boolean anonExclusive(long pa) {
        int pfn = (int) (pa >>> PhysicalMemory.PAGE_SHIFT);
        Pages p = pages[pfn / BLOCK_FRAMES];
        return p != null && p.anonExclusive[pfn & (BLOCK_FRAMES - 1)];
    }

    /** page_count(). */
    public synchronized int pageCount(long pa) {
        return refcount((int) (pa >>> PhysicalMemory.PAGE_SHIFT));
    }

    // ---- queries ---------------------------------------------------------------------------------

    public synchronized FrameUse useOf(long pa) {
        return FrameUse.VALUES[use((int) (pa >>> PhysicalMemory.PAGE_SHIFT))];
    }

    /** Hardware level (1..5) of a page-table frame, 0 for any other frame. */
    public synchronized int pageTableLevel(long pa) {
        return ptLevel((int) (pa >>> PhysicalMemory.PAGE_SHIFT));
    }

    public synchronized long inUse(FrameUse u) {
        return inUse[u.ordinal()];
    }

    /** Page-table pages of hardware level {@code level} currently allocated (all mms and init_mm). */
    public synchronized long pageTables(int level) {
        return pageTablesPerLevel[level];
    }

    public synchronized long freeFrames() {
        long n = 0;
        for (int l = 0; l < free0.length; l++) {
            n += free0[l] + free9[l] * BLOCK_FRAMES;
        }
        return n;
    }

    public synchronized long freeFrames(int node) {
        long n = 0;
        for (int zone = 0; zone < ZONES; zone++) {
            n += free0[node * ZONES + zone] + free9[node * ZONES + zone] * BLOCK_FRAMES;
        }
        return n;
    }

    public long totalFrames() {
        return frames;
    }

    public long reservedFrames() {
        return reservedFrames;
    }

    public synchronized long allocations() {
        return allocations;
    }

    public synchronized long frees() {
        return frees;
    }

    public PhysicalMemory memory() {
        return memory;
    }

    // ---- balance and leak report -----------------------------------------------------------------

    /** The allocation state at one moment, to check later that everything since was freed. */
    public final class Snapshot {
        private final long[] inUseAt = inUse.clone();
        private final long[] ptAt = pageTablesPerLevel.clone();
        private final byte[][] useAt = new byte[pages.length][];

        Snapshot() {
            for (int b = 0; b < pages.length; b++) {
                useAt[b] = pages[b] == null ? null : pages[b].use.clone();
            }
        }

        int useAt(int pfn) {
            byte[] u = useAt[pfn / BLOCK_FRAMES];
            return u == null ? blockUse[pfn / BLOCK_FRAMES] : u[pfn & (BLOCK_FRAMES - 1)];
        }

        public long inUse(FrameUse u) {
            return inUseAt[u.ordinal()];
        }
    }

    public synchronized Snapshot snapshot() {
        return new Snapshot();
    }

    /** The frames allocated now that were free at {@code since}: what was allocated after it and not freed. */
    public synchronized long[] allocatedSince(Snapshot since) {
        long[] out = new long[16];
        int n = 0;
        for (int b = 0; b < pages.length; b++) {
            Pages now = pages[b];
            byte[] then = since.useAt[b];
            // pages are never dropped, so now == null implies then == null: the mutants negating
            // `then == null` or `blockUse[b] == 0` are equivalent (at most a scan finding nothing).
            if (now == null && (then == null || blockUse[b] == 0)) {
                continue;   // one use for the whole block now, and it was that use or the block was split: nothing new
            }
            int first = b * BLOCK_FRAMES;
            int end = Math.min(frames, first + BLOCK_FRAMES);
            for (int pfn = first; pfn < end; pfn++) {
                int i = pfn - first;
                int useNow = now == null ? blockUse[b] : now.use[i];
                int useThen = then == null ? blockUse[b] : then[i];
                if (useNow != 0 && useThen == 0) {
                    if (n == out.length) {
                        out = java.util.Arrays.copyOf(out, n * 2);
                    }
                    out[n++] = (long) pfn << PhysicalMemory.PAGE_SHIFT;
                }
            }
        }
        return java.util.Arrays.copyOf(out, n);
    }

    /** "0x1a000 PAGE_TABLE level 1 refcount=1": a frame for a leak report. */
    public synchronized String describe(long pa) {
        int pfn = (int) (pa >>> PhysicalMemory.PAGE_SHIFT);
        FrameUse u = FrameUse.VALUES[use(pfn)];
        return String.format("0x%x %s%s refcount=%d", pa, u, u == FrameUse.PAGE_TABLE ? " level " + ptLevel(pfn) : "",
                refcount(pfn));
    }

    /** Frames allocated now that were free at {@code since} (at most {@code limit}, with their use). */
    public synchronized List<String> leaks(Snapshot since, int limit) {
        List<String> out = new ArrayList<>();
        for (int pfn = 0; pfn < frames && out.size() < limit; pfn++) {
            if (use(pfn) != 0 && since.useAt(pfn) == 0) {
                FrameUse u = FrameUse.VALUES[use(pfn)];
                out.add(String.format("0x%x %s%s refcount=%d", (long) pfn << PhysicalMemory.PAGE_SHIFT, u,
                        u == FrameUse.PAGE_TABLE ? " level " + ptLevel(pfn) : "", refcount(pfn)));
            }
        }
        return out;
    }

    /**
     * Throws, listing the leaked frames, unless every use's count (and every page-table level's)
     * is what it was at {@code since}.
     */
    public synchronized void checkBalanced(Snapshot since) {
        StringBuilder sb = new StringBuilder();
        for (FrameUse u : FrameUse.VALUES) {
            if (inUse[u.ordinal()] != since.inUseAt[u.ordinal()]) {
                sb.append(String.format(" %s: %d now, %d before;", u, inUse[u.ordinal()], since.inUseAt[u.ordinal()]));
            }
        }
        for (int level = 1; level <= 5; level++) {
            if (pageTablesPerLevel[level] != since.ptAt[level]) {
                sb.append(String.format(" page tables level %d: %d now, %d before;", level,
                        pageTablesPerLevel[level], since.ptAt[level]));
            }
        }
        if (sb.length() > 0) {
            throw new IllegalStateException("frame allocator not balanced:" + sb + " leaked: " + leaks(since, 8));
        }
    }

    /** Balanced against boot: only the reserved frames are in use. */
    public synchronized void checkBalanced() {
        long used = 0;
        for (FrameUse u : FrameUse.VALUES) {
            if (u != FrameUse.RESERVED && u != FrameUse.KERNEL_IMAGE && u != FrameUse.FREE) {
                used += inUse[u.ordinal()];
            }
        }
        if (used != 0) {
            StringBuilder sb = new StringBuilder();
            for (int pfn = 0; pfn < frames && sb.length() < 400; pfn++) {
                FrameUse u = FrameUse.VALUES[use(pfn)];
                if (u != FrameUse.FREE && u != FrameUse.RESERVED && u != FrameUse.KERNEL_IMAGE) {
                    sb.append(String.format(" 0x%x %s", (long) pfn << PhysicalMemory.PAGE_SHIFT, u));
                }
            }
            throw new IllegalStateException("frame allocator not balanced: " + used + " frames in use:" + sb);
        }
    }

    // ---- free lists ------------------------------------------------------------------------------

    private int listOf(int pfn) {
        long pa = (long) pfn << PhysicalMemory.PAGE_SHIFT;
        int zone = pa < lowmemEnd ? ZONE_NORMAL : ZONE_HIGHMEM;
        return memory.nodeOf(pa) * ZONES + zone;
    }

    private void push0(int list, int pfn) {
        int h = head0[list];
        setNext(pfn, h);
        setPrev(pfn, NIL);
        if (h != NIL) {
            setPrev(h, pfn);
        }
        head0[list] = pfn;
        free0[list]++;
    }

    private int pop0(int list) {
        int pfn = head0[list];
        unlink0(list, pfn);
        return pfn;
    }

    private void unlink0(int list, int pfn) {
        Pages pg = pages[pfn / BLOCK_FRAMES];
        int i = pfn & (BLOCK_FRAMES - 1);
        int n = pg.next[i];
        int p = pg.prev[i];
        if (p != NIL) {
            setNext(p, n);
        } else {
            head0[list] = n;
        }
        if (n != NIL) {
            setPrev(n, p);
        }
        pg.next[i] = NIL;
        pg.prev[i] = NIL;
        free0[list]--;
    }

    private void push9(int list, int first) {
        int b = first / BLOCK_FRAMES;
        int h = head9[list];
        next9[b] = h;
        prev9[b] = NIL;
        // prev9 is never read (blocks leave the order-9 list only at its head, by pop9): a mutant
        // of this condition or of pop9's is equivalent; the link is kept for the list's shape.
        if (h != NIL) {
            prev9[h / BLOCK_FRAMES] = first;
        }
        head9[list] = first;
        free9[list]++;
    }

    private int pop9(int list) {
        int first = head9[list];
        int b = first / BLOCK_FRAMES;
        int n = next9[b];
        head9[list] = n;
        if (n != NIL) {   // (negating this is an equivalent mutant: prev9 is never read, see push9)
            prev9[n / BLOCK_FRAMES] = NIL;
        }
        next9[b] = NIL;
        free9[list]--;
        return first;
    }

    // ---- struct page --------------------------------------------------------------------------

    /** The pages of {@code pfn}'s block, made (all free) on first use; never for a whole reserved block. */
    private Pages pagesFor(int pfn) {
        Pages p = pages[pfn / BLOCK_FRAMES];
        if (p == null) {
            if (blockUse[pfn / BLOCK_FRAMES] != 0) {   // unreachable from the API (a guard): no test covers it
                throw new IllegalStateException("frame 0x" + Long.toHexString((long) pfn << PhysicalMemory.PAGE_SHIFT)
                        + " lies in a reserved block");
            }
            p = new Pages();
            pages[pfn / BLOCK_FRAMES] = p;
        }
        return p;
    }

    private int use(int pfn) {
        Pages p = pages[pfn / BLOCK_FRAMES];
        return p == null ? blockUse[pfn / BLOCK_FRAMES] : p.use[pfn & (BLOCK_FRAMES - 1)];
    }

    private int ptLevel(int pfn) {
        Pages p = pages[pfn / BLOCK_FRAMES];
        return p == null ? 0 : p.ptLevel[pfn & (BLOCK_FRAMES - 1)];
    }

    private int refcount(int pfn) {
        Pages p = pages[pfn / BLOCK_FRAMES];
        return p == null ? 0 : p.refcount[pfn & (BLOCK_FRAMES - 1)];
    }

    private void setNext(int pfn, int value) {
        pagesFor(pfn).next[pfn & (BLOCK_FRAMES - 1)] = value;
    }

    private void setPrev(int pfn, int value) {
        pagesFor(pfn).prev[pfn & (BLOCK_FRAMES - 1)] = value;
    }
}
