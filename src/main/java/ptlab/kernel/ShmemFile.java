package ptlab.kernel;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * The anonymous shmem file behind a {@code MAP_SHARED|MAP_ANONYMOUS} mapping: Linux v6.6
 * mm/mmap.c {@code mmap_region} calls {@code shmem_zero_setup(vma)}, which gives the vma a
 * "dev/zero" shmem file, so its pages live in that file's page cache, indexed by page offset.
 * A fork copies the vma (and a reference to the file) but not the ptes
 * ({@code vma_needs_copy}: no anon_vma); whichever process faults a page first puts it in the
 * cache and the other finds it there, so both map the same frame — also for pages first
 * touched after the fork.
 *
 * <pre>
 *   pages[pgoff]      the page cache (i_pages): 0 = not yet allocated
 *   f_count           vmas referring to the file (get_file at split and fork, fput at removal)
 *   page references   one held by the cache, one per pte mapping it
 * </pre>
 *
 * When the last vma goes ({@link #fput} reaches 0, shmem_evict_inode → truncate) the cache
 * drops its references and the pages are freed once no pte (or mmu_gather batch) holds one.
 * Not modelled: swap, tmpfs size limits, huge shmem pages.
 */
final class ShmemFile {

    private final FrameAllocator alloc;
    private final long[] pages;
    /** The page-cache lock (xa_lock of i_pages): a kernel lock, so a scheduling point under the engine. */
    private final SpinLock lock;
    private final AtomicInteger f_count = new AtomicInteger(1);

    ShmemFile(FrameAllocator alloc, long pagesLong, String name) {
        if (pagesLong > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("shared anonymous mapping of " + pagesLong + " pages is too large");
        }
        this.alloc = alloc;
        this.pages = new long[(int) pagesLong];
        this.lock = new SpinLock(name + ".i_pages");
    }

    /**
     * shmem_fault → shmem_get_folio(SGP_CACHE): the page at {@code pgoff}, allocating and
     * inserting it on first use, with a reference taken for the caller's pte. -1 when out of
     * memory. The allocation happens outside the lock; a racing fault that inserted first wins
     * and the loser frees its page (shmem_add_to_page_cache's -EEXIST).
     */
    long shmem_get_page(long pgoff, int node) {
        int i = (int) pgoff;
        lock.lock();
        long pa = pages[i];
        if (pa != 0) {
            alloc.getPage(pa);
            lock.unlock();
            return pa;
        }
        lock.unlock();
        long fresh = alloc.allocFrame(node, FrameUse.USER);     // zeroed: a shared anonymous page reads 0
        if (fresh < 0) {
            return -1;
        }
        lock.lock();
        pa = pages[i];
        if (pa == 0) {
            pages[i] = fresh;                                   // the cache's reference is the allocation's
            pa = fresh;
            fresh = -1;
        }
        alloc.getPage(pa);                                      // the pte's reference
        lock.unlock();
        if (fresh >= 0) {
            alloc.putPage(fresh);
        }
        return pa;
    }

    /** The page cached at {@code pgoff}, or 0 (tests). */
    long cached(long pgoff) {
        return pages[(int) pgoff];
    }

    /** get_file(): a new vma refers to the file (split_vma, dup_mmap). */
    void get_file() {
        f_count.incrementAndGet();
    }

    /** fput(): a vma went away; the last one truncates the cache (the pages go when unmapped). */
    void fput() {
        if (f_count.decrementAndGet() != 0) {
            return;
        }
        for (int i = 0; i < pages.length; i++) {
            if (pages[i] != 0) {
                alloc.putPage(pages[i]);
                pages[i] = 0;
            }
        }
    }
}
