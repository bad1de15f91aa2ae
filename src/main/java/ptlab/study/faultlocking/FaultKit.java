package ptlab.study.faultlocking;

import java.util.concurrent.atomic.AtomicLong;

import ptlab.engine.KernelBridge;
import ptlab.engine.Machine;
import ptlab.engine.SimCpu;
import ptlab.engine.Violation;
import ptlab.hw.AccessType;
import ptlab.hw.PagingMode;
import ptlab.kernel.FaultLocking;
import ptlab.kernel.Kernel;
import ptlab.kernel.KernelConfig;
import ptlab.kernel.KernelVariant;
import ptlab.kernel.MmStruct;
import ptlab.kernel.Pgtable;
import ptlab.kernel.Task;
import ptlab.kernel.VmArea;

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

    /**
     * On the running CPU: writes {@code value} to {@code va}, reads it back and checks it
     * (invariant 7: a write lost), counting each comparison in {@code readBacks}. False, with
     * nothing checked, when either access ended in a signal; {@code lost} says what a
     * mismatch means (appended to the message).
     */
    static boolean writeAndReadBack(SimCpu cpu, long va, long value, AtomicLong readBacks, String lost) {
        if (!KernelBridge.userAccess(cpu, true, va, value) || !KernelBridge.userAccess(cpu, false, va, 0)) {
            return false;
        }
        readBacks.incrementAndGet();
        cpu.machine().checked(7);
        if (cpu.lastValue() != value) {
            cpu.machine().fail(7, String.format("CPU%d wrote %s to va 0x%x and read back %s%s", cpu.id(),
                    number(value), va, number(cpu.lastValue()), lost));
        }
        return true;
    }

    /** Small values in decimal, others in hex: the way the scenarios' messages always showed them. */
    private static String number(long v) {
        return v >= 0 && v < 10 ? Long.toString(v) : "0x" + Long.toHexString(v);
    }

    /**
     * At the end of every run, invariant 8 for tables ({@link #tablesInsideVmas}), counted in
     * {@code endChecks}.
     */
    void checkTablesInsideVmasAtEnd(AtomicLong endChecks) {
        MmStruct mm = threads[0].mm();
        machine.addEndCheck(m -> {
            endChecks.incrementAndGet();
            m.checked(8);
            return tablesInsideVmas(m, kernel, mm);
        });
    }

    /**
     * Invariant 8 for tables: every page-table page still linked under {@code mm}'s user pgd
     * entries maps a range some vma overlaps (free_pgtables frees every other one).
     */
    static Violation tablesInsideVmas(Machine m, Kernel k, MmStruct mm) {
        Violation[] v = {null};
        m.unobserved(() -> {
            Pgtable pt = k.pgtable();
            long top = mm.taskSize();
            long a = 0;
            outer:
            while (Long.compareUnsigned(a, top) < 0 && v[0] == null) {
                long p = pt.pgd_offset(mm, a);
                for (int l = Pgtable.PGD; l > Pgtable.PMD; l--) {
                    if (pt.none(l, pt.get(p))) {
                        long next = (a + pt.size(l)) & pt.mask(l);   // nothing below: skip the whole entry
                        if (next == 0) {
                            break outer;
                        }
                        a = next;
                        continue outer;
                    }
                    p = pt.offset(l - 1, p, a);
                }
                long e = pt.get(p);
                long step = pt.size(Pgtable.PMD);
                if (!pt.none(Pgtable.PMD, e) && !pt.leaf(Pgtable.PMD, e) && !overlapsVma(mm, a, step)) {
                    v[0] = new Violation(8, m.steps(), String.format("mm%d still has a pte table (pmd entry 0x%x) "
                            + "for 0x%x-0x%x, where no vma is: it was installed after munmap's free_pgtables passed",
                            mm.id(), e, a, a + step));
                }
                a += step;
            }
        });
        return v[0];
    }

    private static boolean overlapsVma(MmStruct mm, long start, long len) {
        VmArea v = mm.vmas().find_vma(start);
        return v != null && Long.compareUnsigned(v.vm_start(), start + len) < 0;
    }
}
