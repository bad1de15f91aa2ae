/**
 * What Linux does with page tables, on top of the simulated x86 hardware of {@code ptlab.hw}.
 * Names are Linux's (snake_case where they are Linux functions: {@code pgd_offset},
 * {@code handle_mm_fault}, {@code flush_tlb_mm_range}...), and each class says which kernel
 * file it models.
 *
 * <p>Version: every claim about what Linux does in this package (and {@code ptlab.kernel.vmalloc})
 * was read from <b>Linux v6.6</b>, unless the comment names another version (e.g. "Linux since
 * 5.8", "Linux 6.4"). Where the model departs from v6.6, the departure is listed in
 * {@code docs/fidelity.md} and README's "Fidelity to Linux".
 *
 * <pre>
 *   Kernel            facade: boot (init_mm, direct map), processes, syscalls, access()
 *   FrameAllocator    page allocator: per node/zone free lists, orders 0 and 9, refcounts, leak report
 *   Pgtable           include/linux/pgtable.h + mm/memory.c level ops, with Linux's folding
 *   ArchPgtable       arch/x86/mm/pgtable.c: pgd_alloc/pgd_free/pgd_ctor, pgd_list, PAE pmds and 32-byte pgds
 *   MmStruct, VmArea, VmaTree   mm_struct, vm_area_struct, the ordered vma set (find_vma)
 *   Memory            mm/memory.c: handle_mm_fault, do_anonymous_page, do_wp_page, zap, free_pgtables, copy_page_range
 *   HugeMemory        mm/huge_memory.c: THP fault, split, zap, copy
 *   Mmap              mm/mmap.c, mm/mprotect.c, dup_mmap, exit_mmap, brk, stack growth
 *   MmuGather         mm/mmu_gather.c: flush first, free after
 *   TlbFlush, Cpu     arch/x86/mm/tlb.c: switch_mm, lazy TLB, ASIDs/PCID, shootdown through IpiSender
 *   SpinLock, RwSemaphore   the kernel's locks, each operation announced to the kernel's Interleaving
 *   SharedLong, SharedRef   state other CPUs read without the lock that orders it: each access announced
 *   Interleaving      the one hook a scheduler gets, at construction (locks, shared variables, frees)
 *   KernelVariant     the deliberately broken behaviours a kernel is booted with (fixed at construction)
 * </pre>
 *
 * <p>Physical memory is the only home of page-table entries: no Java structure mirrors the tree.
 * Pointers to entries are physical addresses ({@code long}).
 *
 * <p>Threading: the kernel's own locks make concurrent faults from several Java threads safe.
 * The default {@link ptlab.kernel.IpiSender#SYNCHRONOUS} runs a remote CPU's flush on the
 * sender's thread, which is right for single-threaded drivers and the deterministic scheduler;
 * a driver that runs CPUs on separate threads while flushes happen must install a sender that
 * hands the flush to the target CPU's thread ({@link ptlab.hw.Mmu} is not thread-safe).
 */
package ptlab.kernel;
