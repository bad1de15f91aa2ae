package ptlab.kernel;

import ptlab.hw.TlbConfig;

/**
 * Boot parameters of a {@link Kernel}. Immutable; change with the {@code with*} methods:
 * {@code KernelConfig.defaults().withRam(1L << 30).withCpus(4).withThp(true)}.
 *
 * @param ramBytes         simulated RAM
 * @param nodes            NUMA nodes (RAM split equally; CPUs spread over them)
 * @param cpus             CPUs (1..64)
 * @param tlb              every CPU's TLB geometry
 * @param pcid             CR4.PCIDE and x86's ASID cache (4/5-level paging only)
 * @param thp              transparent huge pages for anonymous memory (4/5-level paging only)
 * @param gbpages          1 GiB pages in the direct map (X86_FEATURE_GBPAGES)
 * @param sharedKernelPmd  PAE: SHARED_KERNEL_PMD (no PTI): kernel pmds shared, pgds are 32-byte slab objects
 * @param zeroPage         read faults on anonymous memory map the shared zero page
 * @param vmSplit          x86-32 user/kernel split
 * @param kernelImageBytes size of the kernel image reserved at 16 MiB
 * @param topReserveBytes  x86-32: the space kept above vmalloc (fixmap, pkmap, LDT, cpu entry
 *                         area), as {@code ptlab layout --top-reserve}; null: the kernel's own
 */
public record KernelConfig(long ramBytes, int nodes, int cpus, TlbConfig tlb, boolean pcid, boolean thp,
                           boolean gbpages, boolean sharedKernelPmd, boolean zeroPage, VmSplit vmSplit,
                           long kernelImageBytes, Long topReserveBytes) {

    /** CONFIG_NR_CPUS: the most CPUs a kernel is built for (mm_cpumask has a word per 64). */
    public static final int NR_CPUS = 256;

    public KernelConfig {
        if (cpus < 1 || cpus > NR_CPUS) {
            throw new IllegalArgumentException("cpus must be 1.." + NR_CPUS + ", got " + cpus);
        }
        if (nodes < 1 || nodes > 64) {
            throw new IllegalArgumentException("nodes must be 1..64, got " + nodes);
        }
        if (ramBytes < (32L << 20)) {
            throw new IllegalArgumentException("RAM must be at least 32 MiB, got " + ramBytes);
        }
    }

    /** 256 MiB, one node, 2 CPUs, default TLB, no PCID, no THP, 1 GiB direct-map pages, shared PAE kernel pmd, zero page, 3G split, 4 MiB image. */
    public static KernelConfig defaults() {
        return new KernelConfig(256L << 20, 1, 2, TlbConfig.DEFAULT, false, false, true, true, true,
                VmSplit.VMSPLIT_3G, 4L << 20, null);
    }

    public KernelConfig withRam(long bytes) {
        return new KernelConfig(bytes, nodes, cpus, tlb, pcid, thp, gbpages, sharedKernelPmd, zeroPage, vmSplit, kernelImageBytes, topReserveBytes);
    }

    public KernelConfig withNodes(int n) {
        return new KernelConfig(ramBytes, n, cpus, tlb, pcid, thp, gbpages, sharedKernelPmd, zeroPage, vmSplit, kernelImageBytes, topReserveBytes);
    }

    public KernelConfig withCpus(int n) {
        return new KernelConfig(ramBytes, nodes, n, tlb, pcid, thp, gbpages, sharedKernelPmd, zeroPage, vmSplit, kernelImageBytes, topReserveBytes);
    }

    public KernelConfig withTlb(TlbConfig t) {
        return new KernelConfig(ramBytes, nodes, cpus, t, pcid, thp, gbpages, sharedKernelPmd, zeroPage, vmSplit, kernelImageBytes, topReserveBytes);
    }

    public KernelConfig withPcid(boolean on) {
        return new KernelConfig(ramBytes, nodes, cpus, tlb, on, thp, gbpages, sharedKernelPmd, zeroPage, vmSplit, kernelImageBytes, topReserveBytes);
    }

    public KernelConfig withThp(boolean on) {
        return new KernelConfig(ramBytes, nodes, cpus, tlb, pcid, on, gbpages, sharedKernelPmd, zeroPage, vmSplit, kernelImageBytes, topReserveBytes);
    }

    public KernelConfig withGbpages(boolean on) {
        return new KernelConfig(ramBytes, nodes, cpus, tlb, pcid, thp, on, sharedKernelPmd, zeroPage, vmSplit, kernelImageBytes, topReserveBytes);
    }

    public KernelConfig withSharedKernelPmd(boolean on) {
        return new KernelConfig(ramBytes, nodes, cpus, tlb, pcid, thp, gbpages, on, zeroPage, vmSplit, kernelImageBytes, topReserveBytes);
    }

    public KernelConfig withZeroPage(boolean on) {
        return new KernelConfig(ramBytes, nodes, cpus, tlb, pcid, thp, gbpages, sharedKernelPmd, on, vmSplit, kernelImageBytes, topReserveBytes);
    }

    public KernelConfig withVmSplit(VmSplit s) {
        return new KernelConfig(ramBytes, nodes, cpus, tlb, pcid, thp, gbpages, sharedKernelPmd, zeroPage, s, kernelImageBytes, topReserveBytes);
    }

    public KernelConfig withTopReserve(Long bytes) {
        return new KernelConfig(ramBytes, nodes, cpus, tlb, pcid, thp, gbpages, sharedKernelPmd, zeroPage, vmSplit,
                kernelImageBytes, bytes);
    }
}
