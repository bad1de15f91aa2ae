package ptlab.kernel;

import java.util.Objects;

import ptlab.hw.PagingMode;
import ptlab.hw.PhysicalMemory;

/**
 * A booted kernel, frozen: what {@link Kernel}'s constructor (start_kernel, reduced) leaves in
 * simulated memory and in the frame allocator — memblock's reservations, init_mm's
 * swapper_pg_dir and the direct map, the zero page — so that each of many short runs (the
 * explorer's schedules) starts from a copy of it instead of booting again.
 *
 * <p>A kernel made from an image ({@link Kernel#Kernel(KernelImage, Interleaving)}) is the
 * kernel a boot with the image's mode, configuration, variant and fault path gives: the same
 * memory (copied a frame at a time as it is first touched: {@link PhysicalMemory.Image}), the
 * same allocator state, page-table locks and init_mm page-table counts, and every Java object
 * of the kernel made anew, in the same order, so shared-variable locations and everything a
 * schedule can observe are those of a fresh boot ({@code KernelImageTest} runs schedules on
 * both and compares them). Only the boot's work on memory and the allocator is skipped.
 *
 * <p>Immutable once made: kernels on several threads may be made from one image.
 */
public final class KernelImage {

    final PagingMode mode;
    final KernelConfig cfg;
    final KernelVariant variant;
    final FaultLocking faultLocking;
    final KernelLayout layout;
    final PhysicalMemory.Image memory;
    /** The booted kernel's allocator: only ever copied. */
    final FrameAllocator allocator;
    /** Page-table pages the boot gave a ptlock (the direct map's pmd and pte tables). */
    final long[] ptlockTables;
    final long initPgd;
    final long[] initPgtables;
    final long zeroPage;

    private KernelImage(Kernel k) {
        this.mode = k.mode();
        this.cfg = k.config();
        this.variant = k.variant();
        this.faultLocking = k.faultLocking();
        this.layout = k.layout();
        this.memory = k.memory().image();
        this.allocator = new FrameAllocator(k.allocator(), new PhysicalMemory(memory), Interleaving.NONE);
        this.ptlockTables = k.pgtable().ptlockTables();
        this.initPgd = k.initMm().pgd();
        this.initPgtables = k.initMm().pgtablesByLevel();
        this.zeroPage = k.zeroPage();
    }

    /**
     * Boots a kernel (as {@code new Kernel(mode, cfg, interleaving, variant, faultLocking)} with no
     * scheduler) and freezes it.
     */
    public static KernelImage boot(PagingMode mode, KernelConfig cfg, KernelVariant variant,
                                   FaultLocking faultLocking) {
        return new KernelImage(new Kernel(mode, cfg, Interleaving.NONE, variant, faultLocking));
    }

    /** Whether this is the image of a boot with these parameters. */
    public boolean bootsAs(PagingMode mode, KernelConfig cfg, KernelVariant variant, FaultLocking faultLocking) {
        return this.mode == mode && (this.cfg == cfg || this.cfg.equals(cfg)) && this.variant.equals(variant)
                && Objects.equals(this.faultLocking, faultLocking);
    }

    public PagingMode mode() {
        return mode;
    }

    public KernelConfig config() {
        return cfg;
    }

    public KernelVariant variant() {
        return variant;
    }

    public FaultLocking faultLocking() {
        return faultLocking;
    }
}
