package ptlab.kernel;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

import ptlab.hw.PagingMode;

/**
 * The kernel's virtual memory map for one paging mode, split and RAM size, and the vmalloc
 * synchronisation arithmetic that follows from it (mail 001, Roedel 2020).
 *
 * <p>A new vmalloc mapping must become visible in every process's page tables. The level at
 * which the kernel's half of those tables is <em>shared by pointer</em> is the sync level: every
 * mm has its own copy of the entries at that level, and the tables below are shared. On x86-64
 * that is the pgd (p4d/pud tables below are shared); on x86-32 PAE it is the pmd, because the
 * 4-entry PDPT cannot partition the kernel's space. PAE mms get their own kernel pmd pages when
 * SHARED_KERNEL_PMD is 0 (arch/x86/include/asm/pgtable-3level_types.h: it is
 * {@code !static_cpu_has(X86_FEATURE_PTI)}, so: with PTI), and then vmalloc_sync_one() /
 * arch_sync_kernel_mappings() in arch/x86/mm/fault.c copy pmd entries; with shared kernel pmds
 * there is nothing to sync and the counts below are what sharing saves. On non-PAE x86-32 the
 * pmd is folded into the pgd and the
 * sync copies pgd entries (mail 001: "on 32-bit non-PAE there are two levels with 1024 entries
 * each. In Linux these map to PMD and PTE levels").
 *
 * <p>All counts are derived from region boundaries and {@link PagingMode#entrySpan(int)}:
 * nothing is typed in. Entries are counted from the first kernel entry at the sync level
 * (index of PAGE_OFFSET on x86-32, of the bottom of the canonical upper half on x86-64).
 */
public final class KernelLayout {

    /** PAGE_SIZE (arch/x86/include/asm/page_types.h): 1 << PAGE_SHIFT, PAGE_SHIFT 12. */
    public static final long PAGE_SIZE = 1L << 12;

    /** 4 GiB: the end of the 32-bit linear address space. */
    static final long FOUR_GIB = 1L << 32;

    // ---- x86-32 constants -------------------------------------------------------------------

    /** VMALLOC_OFFSET (arch/x86/include/asm/pgtable_32_areas.h): the 8 MiB hole after high_memory. */
    public static final long VMALLOC_OFFSET = 8L << 20;

    /**
     * __VMALLOC_RESERVE (arch/x86/mm/init_32.c: {@code unsigned int __VMALLOC_RESERVE = 128 << 20;},
     * used by MAXMEM in arch/x86/include/asm/pgtable_32_areas.h): vmalloc space guaranteed
     * even when RAM fills lowmem. The {@code vmalloc=} boot parameter changes it; ptlab does not.
     */
    public static final long VMALLOC_RESERVE = 128L << 20;

    /** __FIXADDR_TOP (arch/x86/mm/pgtable_32.c: {@code unsigned long __FIXADDR_TOP = 0xfffff000;}). */
    public static final long FIXADDR_TOP = 0xFFFF_F000L;

    /*
     * The default top reserve follows the kernel's own chain of definitions in
     * arch/x86/include/asm/pgtable_32_areas.h (CONFIG_HIGHMEM):
     *
     *   CPU_ENTRY_AREA_BASE = (FIXADDR_TOT_START - PAGE_SIZE*(CPU_ENTRY_AREA_PAGES+1)) & PMD_MASK
     *   LDT_BASE_ADDR       = (CPU_ENTRY_AREA_BASE - PAGE_SIZE) & PMD_MASK,  LDT_END_ADDR = +PMD_SIZE
     *   PKMAP_BASE          = (LDT_BASE_ADDR - PAGE_SIZE) & PMD_MASK
     *   VMALLOC_END         = PKMAP_BASE - 2 * PAGE_SIZE
     *
     * Two inputs are configuration dependent and are fixed here to a representative config
     * (NR_CPUS=8, HIGHMEM, x86 PAE or not):
     *   FIXADDR_TOT_SIZE (arch/x86/include/asm/fixmap.h, __end_of_fixed_addresses pages):
     *     the permanent fixmap (~270 pages with 8 CPUs: kmap_local slots KM_MAX_IDX*NR_CPUS = 128,
     *     MAX_IO_APICS = 128 IO-APIC slots, a dozen others) plus the boot-time btmap slots
     *     (NR_FIX_BTMAPS*FIX_BTMAPS_SLOTS = 64*8 = 512 pages), aligned so the btmap does not cross
     *     a page-table boundary: 1024 pages = 4 MiB.
     *   CPU_ENTRY_AREA_PAGES (pgtable_32_areas.h: NR_CPUS * pages of struct cpu_entry_area):
     *     assumed 40 pages per CPU (GDT, entry stack, TSS with I/O bitmap, doublefault stack,
     *     Intel debug-store buffers), so 320 pages.
     * With those, on PAE (PMD_SIZE 2 MiB):
     *   FIXADDR_TOT_START   = 0xfffff000 - 4 MiB                      = 0xffbff000
     *   CPU_ENTRY_AREA_BASE = (0xffbff000 - 321 * 4 KiB) & ~(2 MiB-1)  = 0xffa00000
     *   LDT_BASE_ADDR       = 0xff800000,  PKMAP_BASE = 0xff600000
     *   VMALLOC_END         = 0xff5fe000: top reserve = 4 GiB - VMALLOC_END = 10 MiB + 8 KiB
     * and on non-PAE (PMD_SIZE = PGDIR_SIZE 4 MiB): CPU_ENTRY_AREA_BASE 0xff800000, LDT_BASE_ADDR
     * 0xff400000, PKMAP_BASE 0xff000000, VMALLOC_END 0xfeffe000: 16 MiB + 8 KiB.
     * Mail 001 guesses "4 entries (8MB)"; --top-reserve sets any other value.
     */
    /** Assumed FIXADDR_TOT_SIZE in pages (see the derivation above). */
    public static final long FIXADDR_TOT_PAGES = 1024;
    /** Assumed CPU_ENTRY_AREA_PAGES (NR_CPUS 8 x 40 pages). */
    public static final long CPU_ENTRY_AREA_PAGES = 8 * 40;

    // ---- x86-64 constants (Documentation/arch/x86/x86_64/mm.rst) -------------------------

    /** 4-level __PAGE_OFFSET_BASE_L4 (arch/x86/include/asm/page_64_types.h). */
    public static final long PAGE_OFFSET_L4 = 0xffff_8880_0000_0000L;
    /** 4-level __VMALLOC_BASE_L4 (arch/x86/include/asm/pgtable_64_types.h), VMALLOC_SIZE_TB_L4 = 32. */
    public static final long VMALLOC_START_L4 = 0xffff_c900_0000_0000L;
    public static final long VMALLOC_SIZE_TB_L4 = 32;
    /** 5-level __PAGE_OFFSET_BASE_L5. */
    public static final long PAGE_OFFSET_L5 = 0xff11_0000_0000_0000L;
    /** 5-level __VMALLOC_BASE_L5, VMALLOC_SIZE_TB_L5 = 12800. */
    public static final long VMALLOC_START_L5 = 0xffa0_0000_0000_0000L;
    public static final long VMALLOC_SIZE_TB_L5 = 12800;

    private final PagingMode mode;
    private final VmSplit split;
    private final long ramBytes;
    private final Long topReserve;
    private final boolean topReserveDefault;
    private final List<Region> regions;
    private final long pageOffset;
    private final long vmallocStart;
    private final long vmallocEnd;     // last byte, inclusive
    private final long maxmem;         // x86-32 only, else -1
    private final long lowmem;         // bytes of RAM in the direct map
    private final int syncLevel;
    private final long kernelEntries;
    private final long belowPageOffsetEntries;
    private final long directMapEntries;
    private final long holeEntries;
    private final long vmallocEntries;
    private final long topReservedEntries;

    private KernelLayout(PagingMode mode, VmSplit split, long ramBytes, Long topReserveBytesOrNull) {
        if (ramBytes < PAGE_SIZE) {
            throw new IllegalArgumentException("RAM size must be at least one page (4K), got " + ramBytes);
        }
        this.mode = mode;
        this.ramBytes = ramBytes;
        List<Region> named = new ArrayList<>();
        long base;
        if (!mode.isLongMode()) {
            this.split = split == null ? VmSplit.VMSPLIT_3G : split;
            this.syncLevel = 2;   // PAE: pmd; 2-level: pgd (the folded pmd)
            long pmdSize = mode.entrySpan(2);
            long pmdMask = ~(pmdSize - 1);
            pageOffset = this.split.pageOffset();
            base = pageOffset;
            long vmallocEndExcl;   // the kernel's VMALLOC_END (exclusive on x86-32)
            if (topReserveBytesOrNull == null) {
                topReserveDefault = true;
                long fixaddrTotStart = FIXADDR_TOP - FIXADDR_TOT_PAGES * PAGE_SIZE;
                long cpuEntryAreaBase = (fixaddrTotStart - PAGE_SIZE * (CPU_ENTRY_AREA_PAGES + 1)) & pmdMask;
                long ldtBase = (cpuEntryAreaBase - PAGE_SIZE) & pmdMask;
                long pkmapBase = (ldtBase - PAGE_SIZE) & pmdMask;
                long lastPkmap = mode.entries(1);   // LAST_PKMAP: 512 PAE, 1024 non-PAE
                vmallocEndExcl = pkmapBase - 2 * PAGE_SIZE;
                named.add(new Region("vmalloc guard (2 pages)", vmallocEndExcl, pkmapBase - 1));
                named.add(new Region("pkmap (PKMAP_BASE, LAST_PKMAP=" + lastPkmap + ")",
                        pkmapBase, pkmapBase + lastPkmap * PAGE_SIZE - 1));
                named.add(new Region("LDT remap for PTI (LDT_BASE_ADDR)", ldtBase, ldtBase + pmdSize - 1));
                named.add(new Region("cpu_entry_area (CPU_ENTRY_AREA_BASE)", cpuEntryAreaBase,
                        cpuEntryAreaBase + CPU_ENTRY_AREA_PAGES * PAGE_SIZE - 1));
                named.add(new Region("fixmap (FIXADDR_TOT_START..FIXADDR_TOP)", fixaddrTotStart, FIXADDR_TOP - 1));
            } else {
                topReserveDefault = false;
                long r = topReserveBytesOrNull;
                if (r <= 0 || r % PAGE_SIZE != 0) {
                    throw new IllegalArgumentException("top reserve must be a positive multiple of 4K, got " + r);
                }
                if (r >= FOUR_GIB - pageOffset) {
                    throw new IllegalArgumentException("top reserve " + r + " leaves no kernel space above PAGE_OFFSET");
                }
                vmallocEndExcl = FOUR_GIB - r;
                named.add(new Region("top reserve: fixmap, pkmap, LDT, cpu_entry_area (--top-reserve)",
                        vmallocEndExcl, FOUR_GIB - 1));
            }
            this.topReserve = FOUR_GIB - vmallocEndExcl;
            // MAXMEM (arch/x86/include/asm/pgtable_32_areas.h):
            //   #define MAXMEM (VMALLOC_END - PAGE_OFFSET - __VMALLOC_RESERVE)
            maxmem = vmallocEndExcl - pageOffset - VMALLOC_RESERVE;
            if (maxmem <= 0) {
                throw new IllegalArgumentException("top reserve too large: MAXMEM would be " + maxmem);
            }
            // lowmem = min(RAM, MAXMEM) (arch/x86/mm/init_32.c, highmem_pfn_init/lowmem_pfn_init);
            // high_memory = __va(max_low_pfn << PAGE_SHIFT).
            lowmem = Math.min(ramBytes, maxmem) & ~(PAGE_SIZE - 1);
            long highMemory = pageOffset + lowmem;
            // VMALLOC_START = (unsigned long)high_memory + VMALLOC_OFFSET
            vmallocStart = highMemory + VMALLOC_OFFSET;
            vmallocEnd = vmallocEndExcl - 1;
            named.add(new Region("direct mapping of lowmem (PAGE_OFFSET..high_memory)", pageOffset, highMemory - 1));
            named.add(new Region("VMALLOC_OFFSET hole", highMemory, vmallocStart - 1));
            named.add(new Region("vmalloc/ioremap space (VMALLOC_START..VMALLOC_END)", vmallocStart, vmallocEnd));

            long span = pmdSize;
            kernelEntries = (FOUR_GIB - pageOffset) / span;
            belowPageOffsetEntries = 0;
            directMapEntries = ceilDiv(lowmem, span);
            long vFirst = (vmallocStart - pageOffset) / span;
            long vLast = ceilDiv(vmallocEndExcl - pageOffset, span);
            holeEntries = vFirst - directMapEntries;
            vmallocEntries = vLast - vFirst;
            topReservedEntries = kernelEntries - vLast;
        } else {
            if (split != null) {
                throw new IllegalArgumentException("--vmsplit applies to x86-32 only");
            }
            if (topReserveBytesOrNull != null) {
                throw new IllegalArgumentException("--top-reserve applies to x86-32 only");
            }
            this.split = null;
            this.topReserve = null;
            this.topReserveDefault = false;
            this.maxmem = -1;
            boolean la57 = mode == PagingMode.X86_64_LA57;
            syncLevel = mode.levels();
            long span = mode.entrySpan(syncLevel);
            base = -(1L << (mode.vaBits() - 1));   // bottom of the canonical upper half
            pageOffset = la57 ? PAGE_OFFSET_L5 : PAGE_OFFSET_L4;
            vmallocStart = la57 ? VMALLOC_START_L5 : VMALLOC_START_L4;
            long vmallocSize = (la57 ? VMALLOC_SIZE_TB_L5 : VMALLOC_SIZE_TB_L4) << 40;
            vmallocEnd = vmallocStart + vmallocSize - 1;
            // direct map: 64 TiB (4-level) / 32 PiB (5-level), mm.rst; physical memory up to
            // 2^MAX_PHYSMEM_BITS (46 / 52).
            long directMapSize = la57 ? 32L << 50 : 64L << 40;
            if (Long.compareUnsigned(ramBytes, directMapSize) > 0) {
                throw new IllegalArgumentException("RAM larger than the direct map (" + directMapSize + " bytes)");
            }
            lowmem = ramBytes;
            if (la57) {
                named.add(new Region("guard hole, also reserved for hypervisor", 0xff00_0000_0000_0000L, 0xff0f_ffff_ffff_ffffL));
                named.add(new Region("LDT remap for PTI", 0xff10_0000_0000_0000L, 0xff10_ffff_ffff_ffffL));
                named.add(new Region("vmemmap (virtual memory map, vmemmap_base)", 0xffd4_0000_0000_0000L, 0xffd5_ffff_ffff_ffffL));
                named.add(new Region("KASAN shadow memory (CONFIG_KASAN)", 0xffdf_0000_0000_0000L, 0xffff_fbff_ffff_ffffL));
            } else {
                named.add(new Region("guard hole, also reserved for hypervisor", 0xffff_8000_0000_0000L, 0xffff_87ff_ffff_ffffL));
                named.add(new Region("LDT remap for PTI", 0xffff_8800_0000_0000L, 0xffff_887f_ffff_ffffL));
                named.add(new Region("vmemmap (virtual memory map, vmemmap_base)", 0xffff_ea00_0000_0000L, 0xffff_eaff_ffff_ffffL));
                named.add(new Region("KASAN shadow memory (CONFIG_KASAN)", 0xffff_ec00_0000_0000L, 0xffff_fbff_ffff_ffffL));
            }
            named.add(new Region("direct mapping of RAM (page_offset_base)", pageOffset, pageOffset + ramBytes - 1));
            if (ramBytes < directMapSize) {
                named.add(new Region("direct mapping, beyond RAM (unused)", pageOffset + ramBytes, pageOffset + directMapSize - 1));
            }
            named.add(new Region("vmalloc/ioremap space (vmalloc_base)", vmallocStart, vmallocEnd));
            // The common top of both maps (mm.rst, "identical layout to the 47-bit one from here on").
            named.add(new Region("cpu_entry_area mapping", 0xffff_fe00_0000_0000L, 0xffff_fe7f_ffff_ffffL));
            named.add(new Region("%esp fixup stacks", 0xffff_ff00_0000_0000L, 0xffff_ff7f_ffff_ffffL));
            named.add(new Region("EFI region mapping space", 0xffff_ffef_0000_0000L, 0xffff_fffe_ffff_ffffL));
            named.add(new Region("kernel text mapping, from physical 0", 0xffff_ffff_8000_0000L, 0xffff_ffff_9fff_ffffL));
            named.add(new Region("module mapping space", 0xffff_ffff_a000_0000L, 0xffff_ffff_feff_ffffL));
            named.add(new Region("fixmap (FIXADDR_START varies, ends here)", 0xffff_ffff_ff00_0000L, 0xffff_ffff_ff5f_ffffL));
            named.add(new Region("legacy vsyscall ABI", 0xffff_ffff_ff60_0000L, 0xffff_ffff_ff60_0fffL));

            kernelEntries = mode.entries(syncLevel) / 2;
            belowPageOffsetEntries = (pageOffset - base) / span;
            directMapEntries = ceilDiv(ramBytes, span);
            long vFirst = (vmallocStart - base) / span;
            vmallocEntries = ceilDiv(vmallocEnd - vmallocStart + 1, span);
            holeEntries = vFirst - belowPageOffsetEntries - directMapEntries;
            topReservedEntries = kernelEntries - vFirst - vmallocEntries;
        }
        this.regions = fillGaps(named, base);
    }

    /**
     * The layout for {@code mode}. {@code split} and {@code topReserveBytesOrNull} apply to the
     * 32-bit modes only (null: 3G split, the kernel's default top reserve); on x86-64 they must
     * be null. {@code ramBytes} sets the direct map (lowmem on x86-32, capped at MAXMEM).
     */
    public static KernelLayout of(PagingMode mode, VmSplit split, long ramBytes, Long topReserveBytesOrNull) {
        return new KernelLayout(mode, split, ramBytes, topReserveBytesOrNull);
    }

    private static long ceilDiv(long a, long b) {
        return Math.ceilDiv(a, b);
    }

    /** Sorts the named regions and inserts "... unused hole" lines so they tile base..0xffff…ffff. */
    private static List<Region> fillGaps(List<Region> named, long base) {
        List<Region> sorted = new ArrayList<>(named);
        sorted.removeIf(r -> r.size() == 0);
        sorted.sort(Comparator.comparing(Region::start, Long::compareUnsigned));
        List<Region> out = new ArrayList<>();
        long next = base;
        long top = base < 0 ? -1L : FOUR_GIB - 1;   // 0xffffffffffffffff or 0xffffffff
        for (Region r : sorted) {
            if (Long.compareUnsigned(r.start(), next) > 0) {
                out.add(new Region("... unused hole", next, r.start() - 1));
            } else if (Long.compareUnsigned(r.start(), next) < 0) {
                throw new IllegalStateException("regions overlap at " + r.name());
            }
            out.add(r);
            next = r.end() + 1;
            if (r.end() == top) {
                return List.copyOf(out);
            }
        }
        out.add(new Region("... unused hole", next, top));
        return List.copyOf(out);
    }

    public PagingMode mode() { return mode; }
    /** The split (x86-32), or null on x86-64. */
    public VmSplit split() { return split; }
    public long ramBytes() { return ramBytes; }
    /** 4 GiB - VMALLOC_END on x86-32 (default or --top-reserve); null on x86-64. */
    public Long topReserveBytes() { return topReserve; }
    public boolean topReserveIsDefault() { return topReserveDefault; }
    public List<Region> regions() { return regions; }
    public long pageOffset() { return pageOffset; }
    public long vmallocStart() { return vmallocStart; }
    /** Last byte of the vmalloc area (inclusive; the x86-32 kernel's VMALLOC_END is this + 1). */
    public long vmallocEnd() { return vmallocEnd; }
    public long vmallocSize() { return vmallocEnd - vmallocStart + 1; }
    /** MAXMEM on x86-32, -1 on x86-64. */
    public long maxmem() { return maxmem; }
    /** Bytes of RAM in the direct map (lowmem on x86-32). */
    public long directMapBytes() { return lowmem; }
    /** The paging level (1 = pte) at which kernel entries are copied into each mm. */
    public int syncLevelNumber() { return syncLevel; }
    /**
     * The name of the sync level, the one vocabulary of {@code ptlab layout} and {@code ptlab
     * experiment vmalloc-sync}: the table that holds the entries to keep in sync, "pgd" or "pmd".
     * Linux's code names the level it writes, which folding can make another name for the same
     * entry: on 2-level x86-32, vmalloc_sync_one() (Linux v6.6 arch/x86/mm/fault.c) writes a pmd
     * that is folded into the pgd; on 4-level x86-64, sync_global_pgds_l4() (arch/x86/mm/init_64.c)
     * writes a p4d folded into the pgd. PAE syncs real pmds; la57 real pgds.
     */
    public String syncLevel() { return mode.linuxName(syncLevel); }
    /** Bytes mapped by one entry at the sync level. */
    public long syncEntrySpan() { return mode.entrySpan(syncLevel); }
    public long kernelEntriesAtSyncLevel() { return kernelEntries; }
    /** x86-64: entries between the bottom of the upper half and PAGE_OFFSET (guard hole, LDT remap); 0 on x86-32. */
    public long belowPageOffsetEntries() { return belowPageOffsetEntries; }
    public long directMapEntries() { return directMapEntries; }
    /** Entries between the last direct-map entry and the one holding VMALLOC_START. */
    public long holeEntries() { return holeEntries; }
    public long vmallocEntries() { return vmallocEntries; }
    /** Entries above the last vmalloc entry, up to the top of the address space. */
    public long topReservedEntries() { return topReservedEntries; }
    /** Linux name of the tables preallocated below the sync level: pte (x86-32), pud (x86-64), p4d (la57). */
    public String preallocTableLevel() { return mode.linuxName(syncLevel - 1); }
    /**
     * Page-table pages to preallocate so the sync-level entries covering vmalloc never change:
     * one next-level table per vmalloc entry (arch/x86/mm/init_64.c preallocate_vmalloc_pages()
     * does this on x86-64: a p4d page per pgd entry with 5 levels, a pud page per pgd entry with 4;
     * with CONFIG_KMSAN its loop runs to VMEMORY_END instead, which ptlab does not model).
     */
    public long preallocPages() { return vmallocEntries; }
    public long preallocBytes() { return vmallocEntries * PAGE_SIZE; }
}
