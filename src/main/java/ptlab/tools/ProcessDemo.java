package ptlab.tools;

import static ptlab.kernel.Kernel.MAP_ANONYMOUS;
import static ptlab.kernel.Kernel.MAP_PRIVATE;
import static ptlab.kernel.Kernel.PROT_READ;
import static ptlab.kernel.Kernel.PROT_WRITE;

import ptlab.hw.PagingMode;
import ptlab.kernel.Cpu;
import ptlab.kernel.FrameUse;
import ptlab.kernel.Kernel;
import ptlab.kernel.KernelConfig;
import ptlab.kernel.Task;

/**
 * The life of one process on the kernel model, for {@code ptlab demo}: demand faults fill a
 * 1 MiB anonymous mapping, fork shares it copy-on-write, a write by the child copies one page,
 * munmap frees the page tables after the TLB flush, and exit gives every frame back.
 *
 * <p>Every number in a {@link Result} is read from the model (fault counters, the frame
 * allocator's per-use and per-level counts, the values the CPUs read back), so the demo shows
 * what the kernel code did, not what it is supposed to do.
 */
public final class ProcessDemo {

    /** Bytes mapped and touched: 256 pages. */
    public static final long MAPPING_BYTES = 1L << 20;

    /**
     * @param faults             page faults taken while the parent wrote every page once
     * @param userTablePages     page-table pages allocated for that (all levels, the pgd included)
     * @param forkTablePages     page-table pages fork allocated for the child (copy_page_range)
     * @param forkUserPages      user frames fork allocated (0: everything is shared COW)
     * @param cowCopies          pages copied when the child wrote one page and the parent read
     * @param childSees          what the child read from page 0 after writing it
     * @param parentSees         what the parent read from page 0 after the child's write
     * @param munmapFreedTables  page-table pages munmap freed in the parent (free_pgtables)
     * @param leakedFrames       frames still in use after both exited (0 when the kernel is right)
     */
    public record Result(PagingMode mode, long faults, long userTablePages, long forkTablePages,
                         long forkUserPages, long cowCopies, long childSees, long parentSees,
                         long munmapFreedTables, long leakedFrames) {
    }

    private ProcessDemo() {
    }

    public static Result run(PagingMode mode) {
        Kernel k = new Kernel(mode, KernelConfig.defaults().withRam(64L << 20).withCpus(2));
        Cpu cpu0 = k.cpu(0);
        Cpu cpu1 = k.cpu(1);
        long tablesAtBoot = tablePages(k);

        Task parent = k.createProcess();
        k.switchTo(cpu0, parent);
        long a = k.mmap(parent, 0, MAPPING_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
        long faultsBefore = k.stats().pgfault.get();
        for (long off = 0; off < MAPPING_BYTES; off += 4096) {
            k.writeUserLong(cpu0, a + off, 0x1000 + (off >> 12));
        }
        long faults = k.stats().pgfault.get() - faultsBefore;
        long tablesParent = tablePages(k);

        long userBeforeFork = k.allocator().inUse(FrameUse.USER);
        Task child = k.fork(parent);
        long forkTablePages = tablePages(k) - tablesParent;
        long forkUserPages = k.allocator().inUse(FrameUse.USER) - userBeforeFork;

        long cowBefore = k.stats().cowCopies.get();
        k.switchTo(cpu1, child);
        k.writeUserLong(cpu1, a, 0xc41d);
        long childSees = k.readUserLong(cpu1, a, -1);
        long parentSees = k.readUserLong(cpu0, a, -1);
        long cowCopies = k.stats().cowCopies.get() - cowBefore;

        long tablesBeforeMunmap = tablePages(k);
        k.munmap(parent, a, MAPPING_BYTES);
        long munmapFreed = tablesBeforeMunmap - tablePages(k);

        k.switchTo(cpu1, null);
        k.exit(child);
        k.switchTo(cpu0, null);
        k.exit(parent);
        k.unlazyAll();
        long leaked = k.allocator().inUse(FrameUse.USER) + k.allocator().inUse(FrameUse.KERNEL)
                - k.bootSnapshot().inUse(FrameUse.USER) - k.bootSnapshot().inUse(FrameUse.KERNEL)
                + tablePages(k) - tablesAtBoot;
        return new Result(mode, faults, tablesParent - tablesAtBoot, forkTablePages, forkUserPages, cowCopies,
                childSees, parentSees, munmapFreed, leaked);
    }

    private static long tablePages(Kernel k) {
        return k.allocator().inUse(FrameUse.PAGE_TABLE);
    }
}
