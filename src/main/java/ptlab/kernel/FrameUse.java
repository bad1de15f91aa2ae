package ptlab.kernel;

/**
 * What an allocated frame is used for, the model's reduced {@code enum pageflags}/page type.
 * Page-table pages are {@link #PAGE_TABLE} and are further counted per paging level by
 * {@link FrameAllocator}.
 */
public enum FrameUse {
    /** On a free list (never returned by {@link FrameAllocator#useOf} for an allocated frame). */
    FREE,
    /** Firmware and the low 64 KiB (X86_RESERVE_LOW), reserved by memblock at boot; never freed. */
    RESERVED,
    /** The kernel image (text, data, bss) at CONFIG_PHYSICAL_START; never freed. */
    KERNEL_IMAGE,
    /** Other kernel memory (e.g. slab pages holding 32-byte PAE pgds). */
    KERNEL,
    /** A page-table page (pgd, p4d, pud, pmd or pte table). */
    PAGE_TABLE,
    /** Anonymous user memory. */
    USER;

    static final FrameUse[] VALUES = values();
}
