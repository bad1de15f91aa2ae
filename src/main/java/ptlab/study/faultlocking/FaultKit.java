package ptlab.study.faultlocking;

import ptlab.engine.KernelBridge;
import ptlab.engine.Machine;
import ptlab.engine.SimCpu;
import ptlab.hw.AccessType;
import ptlab.hw.PagingMode;
import ptlab.kernel.FaultLocking;
import ptlab.kernel.Kernel;
import ptlab.kernel.KernelConfig;
import ptlab.kernel.KernelVariant;
import ptlab.kernel.Task;

/**
 * The setting of the fault-locking explore scenarios: a kernel built with one
 * {@link FaultLocking}, one process with a thread per CPU (thread i current on CPU i), all on
 * one {@link Machine}. Setup work (mmap, pre-faults) runs before the machine starts, so it is
 * no scheduling point.
 */
final class FaultKit {

    final Kernel kernel;
    final Machine machine;
    final Task[] threads;

    FaultKit(FaultLocking path, int cpus, PagingMode mode) {
        KernelBridge bridge = new KernelBridge();
        kernel = new Kernel(mode, KernelConfig.defaults().withRam(32L << 20).withCpus(cpus), bridge,
                KernelVariant.CORRECT, path);
        machine = new Machine(kernel.memory(), mode, new ptlab.check.Invariants());
        bridge.install(kernel, machine);
        threads = new Task[cpus];
        threads[0] = kernel.createProcess();
        for (int i = 1; i < cpus; i++) {
            threads[i] = kernel.cloneThread(threads[0]);
        }
        for (int i = 0; i < cpus; i++) {
            kernel.switchTo(kernel.cpu(i), threads[i]);
        }
    }

    /** An anonymous private read-write mapping at {@code addr} (MAP_FIXED). */
    long mmapFixed(long addr, long len) {
        long va = kernel.mmap(threads[0], addr, len, Kernel.PROT_READ | Kernel.PROT_WRITE,
                Kernel.MAP_PRIVATE | Kernel.MAP_ANONYMOUS | Kernel.MAP_FIXED);
        if (va != addr) {
            throw new IllegalStateException("setup mmap failed: " + va);
        }
        return va;
    }

    /** A write by CPU {@code cpu}'s thread before the run (its TLB keeps the translation). */
    void prefault(int cpu, long va, long value) {
        long pa = kernel.access(kernel.cpu(cpu), va, AccessType.WRITE);
        if (pa < 0) {
            throw new IllegalStateException("setup fault failed at 0x" + Long.toHexString(va));
        }
        kernel.memory().storeLong(pa & ~7L, value);
    }

    void cpu(int i, SimCpu.Program program) {
        KernelBridge.addKernelCpu(machine, kernel.cpu(i), program);
    }
}
