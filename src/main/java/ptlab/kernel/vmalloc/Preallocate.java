package ptlab.kernel.vmalloc;

import ptlab.kernel.KernelLayout;

/**
 * {@code preallocate}: at boot, allocate the next-level table under every sync-level entry of
 * the vmalloc area in init_mm, so every pgd cloned from it already points at all of them and
 * nothing is ever synced or faulted. Models preallocate_vmalloc_pages() in
 * arch/x86/mm/init_64.c ("x86/mm: Pre-allocate P4D/PUD pages for vmalloc area", v5.9): a pud
 * page per pgd entry on 4-level, a p4d page on 5-level (256 KiB on 4-level, mail 001). On
 * x86-32 the same idea means a pte page per vmalloc pmd entry (mail 001's 1272 pages with PAE,
 * 1G split and 512 MiB RAM), which is why Linux did not do it there.
 */
public final class Preallocate implements VmallocSyncStrategy {

    private long pages;

    @Override
    public String name() {
        return "preallocate";
    }

    @Override
    public String description() {
        return "preallocate_vmalloc_pages(): every vmalloc sync-level table allocated at boot";
    }

    @Override
    public void boot(KernelMappingSync s) {
        KernelLayout l = s.kernel().layout();
        long first = l.vmallocStart() & -s.span();
        long n = s.entriesIn(l.vmallocStart(), l.vmallocEnd() + 1);
        for (long i = 0; i < n; i++) {
            pages += s.preallocate(first + i * s.span());
        }
    }

    @Override
    public long bootTableBytes() {
        return pages * KernelLayout.PAGE_SIZE;
    }
}
