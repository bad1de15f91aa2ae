package ptlab.kernel.vmalloc;

import static ptlab.kernel.Pgtable.PGD;
import static ptlab.kernel.Pgtable.PTE;

import java.util.HashMap;
import java.util.Map;

import ptlab.hw.PteBits;
import ptlab.kernel.Cpu;
import ptlab.kernel.FrameAllocator;
import ptlab.kernel.FrameUse;
import ptlab.kernel.Kernel;
import ptlab.kernel.MmStruct;
import ptlab.kernel.Pgtable;
import ptlab.kernel.Task;

/**
 * mm/vmalloc.c and mm/ioremap.c over the model: vmalloc/vfree, vmap/vunmap and
 * ioremap/iounmap populate init_mm's page tables with the generic operations and hand the
 * result to a {@link VmallocSyncStrategy}.
 *
 * <pre>
 *   vmalloc(size)   __get_vm_area_node: alloc_vmap_area(size + guard page)
 *                   __vmalloc_area_node: a frame per page
 *                   vmap_pages_range_noflush -> vmap_range_noflush (pgtbl_mod_mask)
 *                   if (mask & ARCH_PAGE_TABLE_SYNC_MASK) arch_sync_kernel_mappings()  [strategy]
 *   vfree(addr)     vunmap_range_noflush (no TLB flush), free the frames,
 *                   free_vmap_area_noflush -> lazy purge: one flush_tlb_kernel_range()
 *   ioremap(pa,sz)  ioremap_page_range: pmd/pud leaves where vmap_try_huge_pmd/pud allow
 * </pre>
 *
 * <p>Huge ioremap mappings are made only at levels below the sync level (pmd and pud on
 * x86-64): a leaf at the sync level would have to be synced and could later change or vanish,
 * breaking the x86-64 rule that sync-level entries change once, from none to a table (mail
 * 001). So x86-32, whose sync level is the pmd, gives up huge ioremap, as Roedel accepts
 * ("I could very well live with prohibiting huge-page ioremap mappings for x86-32").
 *
 * <p>Kernel page tables under vmalloc are never freed (Linux frees them only for huge ioremap
 * remapping, which ptlab does not model), so a populated sync-level entry never changes.
 */
public final class Vmalloc {

    /** _PAGE_CACHE_MODE_UC_MINUS for ioremap(): PCD. */
    static final long IOREMAP_CACHE = PteBits.PCD;

    /** What kind of mapping a vm_struct is. */
    public enum Kind { VMALLOC, VMAP, IOREMAP }

    /** struct vm_struct: the mapping at addr of size bytes (guard page excluded), its frames (vmalloc). */
    public record VmStruct(long addr, long size, Kind kind, long[] pages, long physAddr) {
    }

    private final Kernel k;
    private final Pgtable pt;
    private final MmStruct init;
    private final int eb;
    private final VmallocSyncStrategy strategy;
    private final KernelMappingSync sync;
    private final VmapAreas areas;
    private final Map<Long, VmStruct> vms = new HashMap<>();
    private final long pageKernel;

    private long allocFailures;
    private long hugeMappings;
    private long pagesMapped;

    /**
     * A vmalloc layer over a freshly booted {@code k} (before any process exists) with
     * {@code strategy}, which runs its boot hook now.
     */
    public Vmalloc(Kernel k, VmallocSyncStrategy strategy) {
        this.k = k;
        this.pt = k.pgtable();
        this.init = k.initMm();
        this.eb = pt.entryBytes();
        this.strategy = strategy;
        this.sync = new KernelMappingSync(k);
        long[] range = strategy.vmallocRange(k.layout());
        this.areas = new VmapAreas(range[0], range[1], VmapAreas.lazyMaxPages(k.cpuCount()),
                (s, e) -> k.tlb().flush_tlb_kernel_range(null, s, e), k.interleaving());
        this.pageKernel = PteBits.P | PteBits.RW | PteBits.A | PteBits.D | PteBits.G | pt.nx();
        strategy.boot(sync);
    }

    public VmallocSyncStrategy strategy() {
        return strategy;
    }

    public KernelMappingSync sync() {
        return sync;
    }

    public VmapAreas areas() {
        return areas;
    }

    /** is_vmalloc_addr(): inside the vmalloc area this layer allocates from. */
    public boolean isVmallocAddr(long va) {
        return va >= areas.start() && va < areas.end();
    }

    public VmStruct find(long va) {
        return vms.get(va);
    }

    // ---- vmalloc / vfree ----------------------------------------------------------------------

    /** vmalloc(size): the address of {@code size} bytes of zeroed kernel memory, or 0 on failure. */
    public long vmalloc(Cpu cpu, long size) {
        long bytes = pageAlign(size);
        long va = areas.alloc(bytes + VmapAreas.PAGE_SIZE, VmapAreas.PAGE_SIZE);
        if (va == -1) {
            allocFailures++;
            return 0;
        }
        int n = (int) (bytes / VmapAreas.PAGE_SIZE);
        long[] pages = new long[n];
        FrameAllocator fa = k.allocator();
        int node = cpu == null ? 0 : cpu.node();
        for (int i = 0; i < n; i++) {
            pages[i] = fa.allocFrame(node, FrameUse.KERNEL);
            if (pages[i] < 0) {                 // < 0, not <= 0: frame 0 is in the low 64 KiB memblock reserve, never handed out
                for (int j = 0; j < i; j++) {
                    fa.freeFrame(pages[j]);
                }
                areas.freeLazy(va);
                allocFailures++;
                return 0;
            }
        }
        if (!map(cpu, va, bytes, pages, -1, pageKernel)) {
            unmapRange(va, va + bytes);
            for (long p : pages) {
                fa.freeFrame(p);
            }
            areas.freeLazy(va);
            allocFailures++;
            return 0;
        }
        vms.put(va, new VmStruct(va, bytes, Kind.VMALLOC, pages, -1));
        return va;
    }

    /** vfree(addr): unmap without flushing, free the frames, free the area lazily. */
    public void vfree(Cpu cpu, long va) {
        VmStruct vm = remove(va, Kind.VMALLOC);
        unmapRange(va, va + vm.size());
        for (long p : vm.pages()) {
            k.allocator().freeFrame(p);
        }
        areas.freeLazy(va);
    }

    /** vmap(pages): maps existing frames contiguously; 0 on failure. */
    public long vmap(Cpu cpu, long[] pages) {
        long bytes = pages.length * VmapAreas.PAGE_SIZE;
        long va = areas.alloc(bytes + VmapAreas.PAGE_SIZE, VmapAreas.PAGE_SIZE);
        if (va == -1) {
            allocFailures++;
            return 0;
        }
        if (!map(cpu, va, bytes, pages, -1, pageKernel)) {
            unmapRange(va, va + bytes);
            areas.freeLazy(va);
            allocFailures++;
            return 0;
        }
        vms.put(va, new VmStruct(va, bytes, Kind.VMAP, pages.clone(), -1));
        return va;
    }

    /** vunmap(addr): the frames stay the caller's. */
    public void vunmap(Cpu cpu, long va) {
        VmStruct vm = remove(va, Kind.VMAP);
        unmapRange(va, va + vm.size());
        areas.freeLazy(va);
    }

    /**
     * ioremap(phys, size): uncached kernel mapping of MMIO at {@code phys}, with the largest
     * leaves allowed below the sync level when {@code phys} and size line up; 0 on failure.
     */
    public long ioremap(Cpu cpu, long phys, long size) {
        long off = phys & (VmapAreas.PAGE_SIZE - 1);
        long base = phys - off;
        long bytes = pageAlign(size + off);
        long align = VmapAreas.PAGE_SIZE;
        // get_vm_area_caller's alignment for huge vmap (l <= PGD would change nothing:
        // hugeAllowed(PGD) is false, the pgd being at or above the sync level)
        for (int l = Pgtable.PMD; l < PGD; l++) {
            if (hugeAllowed(l) && bytes >= pt.size(l) && (base & (pt.size(l) - 1)) == 0) {
                align = pt.size(l);
            }
        }
        long va = areas.alloc(bytes + VmapAreas.PAGE_SIZE, align);
        if (va == -1) {
            allocFailures++;
            return 0;
        }
        if (!map(cpu, va, bytes, null, base, pageKernel | IOREMAP_CACHE)) {
            unmapRange(va, va + bytes);
            areas.freeLazy(va);
            allocFailures++;
            return 0;
        }
        vms.put(va, new VmStruct(va, bytes, Kind.IOREMAP, null, base));
        return va + off;
    }

    /** iounmap(addr). */
    public void iounmap(Cpu cpu, long addr) {
        long va = addr & -VmapAreas.PAGE_SIZE;
        VmStruct vm = remove(va, Kind.IOREMAP);
        unmapRange(va, va + vm.size());
        areas.freeLazy(va);
    }

    private VmStruct remove(long va, Kind kind) {
        VmStruct vm = vms.get(va);
        if (vm == null || vm.kind() != kind) {
            throw new IllegalStateException(String.format("%s(0x%x): no such %s area", kind == Kind.VMALLOC ? "vfree"
                    : kind == Kind.VMAP ? "vunmap" : "iounmap", va, kind.name().toLowerCase()));
        }
        vms.remove(va);
        return vm;
    }

    private static long pageAlign(long size) {
        if (size <= 0) {
            throw new IllegalArgumentException("vmalloc size must be positive, got " + size);
        }
        return (size + VmapAreas.PAGE_SIZE - 1) & -VmapAreas.PAGE_SIZE;
    }

    // ---- the kernel fault path and context switch -------------------------------------------------

    /**
     * The vmalloc part of do_kern_addr_fault(): a not-present kernel-mode fault on
     * {@code address} while {@code mm}'s tables are loaded. True if the strategy fixed it
     * (the access is retried); false means oops.
     */
    public boolean kernelFault(MmStruct mm, long address) {
        if (!isVmallocAddr(address) || mm == null || mm.isInitMm()) {
            return false;
        }
        return strategy.vmallocFault(sync, mm, address);
    }

    /** context_switch() with the strategy's switch_mm hook first. */
    public void switchTo(Cpu cpu, Task next) {
        switchMmHook(cpu, next);
        k.switchTo(cpu, next);
    }

    /** Only the strategy's part of {@link #switchTo} (what the strategy adds to every context switch). */
    public void switchMmHook(Cpu cpu, Task next) {
        if (next != null && next.mm() != null && next.cpu() != cpu) {
            strategy.switchMm(sync, cpu, next.mm());
        }
    }

    /** The strategy's view of a child made by fork (pgd_ctor already ran under pgd_lock). */
    public void forked(Task child) {
        // Only switch-check acts here, resetting the child's generation to 0; a new MmStruct already
        // starts at 0 (Linux's dup_mm copies the parent's, hence the hook), so no test sees its loss.
        strategy.forked(sync, child.mm());
    }

    // ---- vmap_range_noflush ------------------------------------------------------------------------

    /**
     * Maps [va, va+bytes) in init_mm: the frames {@code pages} (vmalloc/vmap) or the physical
     * range from {@code phys} (ioremap); then the strategy's afterMap with the pgtbl_mod_mask.
     * False on -ENOMEM for a page table.
     */
    private boolean map(Cpu cpu, long va, long bytes, long[] pages, long phys, long prot) {
        int r = mapEntries(PGD, pt.pgd_offset(init, va), va, va + bytes, va, pages, phys, prot, cpu == null ? 0 : cpu.node());
        int mask = r & ~ENOMEM;
        pagesMapped += bytes / VmapAreas.PAGE_SIZE;
        // Linux v6.6 mm/vmalloc.c:vmap_range_noflush(): "if (mask & ARCH_PAGE_TABLE_SYNC_MASK)
        // arch_sync_kernel_mappings(start, end);" runs after the loop even when it broke out
        // with an error: the tables populated before the failure are synced all the same.
        strategy.afterMap(sync, cpu, va, va + bytes, mask);
        return (r & ENOMEM) == 0;
    }

    /** Set in mapEntries()'s result when a table allocation failed; the other bits are the pgtbl_mod_mask so far. */
    static final int ENOMEM = 1 << 30;

    /**
     * A kernel mapping created outside vmalloc after boot, such as vmemmap_populate() or
     * memremap_pages() for hot-added memory: {@code pages} mapped at {@code va} in init_mm with
     * PAGE_KERNEL. Returns the pgtbl_mod_mask, or -1 on -ENOMEM. The strategy is not told:
     * before 2025, x86-64 defined no ARCH_PAGE_TABLE_SYNC_MASK, so nothing synced such
     * mappings; a caller that models the fix calls arch_sync_kernel_mappings itself
     * ({@link KernelMappingSync#syncRange}).
     */
    public int populateOutsideVmalloc(Cpu cpu, long va, long[] pages) {
        long bytes = pages.length * VmapAreas.PAGE_SIZE;
        int r = mapEntries(PGD, pt.pgd_offset(init, va), va, va + bytes, va, pages, -1, pageKernel, cpu == null ? 0 : cpu.node());
        return (r & ENOMEM) != 0 ? -1 : r;
    }

    /**
     * vmap_p4d_range .. vmap_pte_range in one: the level-{@code l} entries at {@code p} for
     * [addr, end). A missing table is allocated (pXd_alloc_track), setting the parent level's
     * PGTBL_*_MODIFIED bit; a new sync-level entry is recorded in the generation list. Returns
     * the pgtbl_mod_mask (local to this call: CPUs map concurrently), with {@link #ENOMEM} set
     * when a table allocation failed (the mask then says what was populated before it).
     */
    private int mapEntries(int l, long p, long addr, long end, long base, long[] pages, long phys, long prot, int node) {
        int mask = 0;
        do {
            long next = pt.addrEnd(l, addr, end);
            if (l == PTE) {
                long pa = pages != null ? pages[(int) ((addr - base) / VmapAreas.PAGE_SIZE)] : phys + (addr - base);
                pt.set_pte(p, pt.pfn_pte(pa, prot));                     // vmap_pte_range: set_pte_at()
                mask |= 1 << PTE;
            } else if (pages == null && hugeAllowed(l) && next - addr == pt.size(l)
                    && ((phys + (addr - base)) & (pt.size(l) - 1)) == 0 && pt.none(l, pt.get(p))) {
                pt.set(p, pt.pfn_pmd_huge(phys + (addr - base), prot));      // vmap_try_huge_pmd/pud
                mask |= 1 << l;                 // below the sync level: no strategy reads this bit, so no test can see it wrong
                hugeMappings++;
            } else {
                if (pt.none(l, pt.get(p))) {
                    if (pt.allocTable(l - 1, init, p, node) != 0) {
                        return mask | ENOMEM;
                    }
                    mask |= 1 << l;
                    if (l == sync.syncLevel()) {
                        sync.notePopulated(addr);
                    }
                }
                int below = mapEntries(l - 1, pt.offset(l - 1, p, addr), addr, next, base, pages, phys, prot, node);
                mask |= below;
                if ((below & ENOMEM) != 0) {
                    return mask;
                }
            }
            if (!pt.folded(l)) {
                p += eb;
            }
            addr = next;
        } while (addr != end);
        return mask;
    }

    /** arch_vmap_pmd_supported / arch_vmap_pud_supported, restricted to levels below the sync level. */
    boolean hugeAllowed(int l) {
        // l >= PTE would change nothing: no caller asks for the pte level, and largePageAllowed(1) is false
        return l > PTE && l < sync.syncLevel() && !pt.folded(l) && k.mode().largePageAllowed(pt.hwLevel(l))
                && (l == Pgtable.PMD || k.config().gbpages());
    }

    /** vunmap_range_noflush(): clear every leaf in [addr, end) of init_mm; no TLB flush, tables stay. */
    private void unmapRange(long addr, long end) {
        unmapEntries(PGD, pt.pgd_offset(init, addr), addr, end);
    }

    private void unmapEntries(int l, long p, long addr, long end) {
        do {
            long next = pt.addrEnd(l, addr, end);
            long e = pt.get(p);
            if (l == PTE) {
                if (!pt.none(PTE, e)) {
                    pt.getAndClear(p);
                }
            } else if (!pt.none(l, e)) {
                if (pt.leaf(l, e)) {
                    pt.clear(l, p);                                          // a huge ioremap leaf
                } else {
                    unmapEntries(l - 1, pt.offset(l - 1, p, addr), addr, next);
                }
            }
            if (!pt.folded(l)) {
                p += eb;
            }
            addr = next;
        } while (addr != end);
    }

    // ---- counters ------------------------------------------------------------------------------

    /** vmalloc/vmap/ioremap calls that returned failure (no space in the allowed range, or no memory). */
    public long allocFailures() {
        return allocFailures;
    }

    public long hugeMappings() {
        return hugeMappings;
    }

    public long pagesMapped() {
        return pagesMapped;
    }

    public int liveAreas() {
        return vms.size();
    }
}
