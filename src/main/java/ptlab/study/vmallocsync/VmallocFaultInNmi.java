package ptlab.study.vmallocsync;

import java.util.List;

import ptlab.hw.PageFaultError;
import ptlab.hw.PagingMode;
import ptlab.kernel.Kernel;
import ptlab.kernel.KernelConfig;
import ptlab.kernel.KernelVariant;
import ptlab.kernel.Task;
import ptlab.kernel.vmalloc.LazyFault;
import ptlab.kernel.vmalloc.Preallocate;
import ptlab.kernel.vmalloc.Vmalloc;
import ptlab.kernel.vmalloc.VmallocSyncStrategy;
import ptlab.engine.Blocker;
import ptlab.engine.Interrupt;
import ptlab.engine.KernelBridge;
import ptlab.engine.Machine;
import ptlab.engine.Scenario;

/**
 * {@code vmalloc-fault-in-nmi}: mail 003's hazard. A perf tool's thread on CPU0 mmaps the ring
 * buffer (perf_mmap -&gt; rb_alloc: vmalloc) and publishes it; its process P on CPU1, created
 * before, enables the event (PERF_EVENT_IOC_ENABLE: the PMU counter is armed, from then on its
 * overflow NMI can hit CPU1) and, still in process context, writes the buffer's control page.
 * The perf NMI handler writes a sample into the buffer. Every buffer access is a supervisor
 * write through CPU1's MMU with P's CR3, which lacks the buffer's new top-level entry.
 *
 * <p>Under {@code lazy-fault} the first access takes #PF and vmalloc_fault() copies the entry:
 * harmless in process context, the hazard inside the NMI handler, whose fault's IRET unblocks
 * NMIs before the handler returns ("iret unblocks NMI's, because there is no dedicated 'nmiret'
 * instruction"); invariant 5. In the schedule without preemption the process-context write comes
 * first and the NMI, taken when CPU1 waits for its sample, does not fault; only an NMI injected
 * between the arming and that write faults in NMI context. {@code preallocate} (x86-64 since
 * v5.9) never faults. No run passes vacuously: the NMI cannot come before the counter is armed
 * (the buffer exists by then), and CPU1 waits for the sample, so every completed run performed
 * the NMI handler's write.
 */
public final class VmallocFaultInNmi implements Scenario {

    @Override
    public String name() {
        return "vmalloc-fault-in-nmi";
    }

    @Override
    public String description() {
        return "a perf NMI writes to a fresh vmalloc buffer from a process whose pgd lacks its entry";
    }

    @Override
    public List<Variant> variants() {
        return List.of(
                new Variant("lazy-fault", true, "vmalloc_fault() fills the entry, from inside the NMI (the hazard)"),
                new Variant("preallocate", false, "vmalloc top-level tables preallocated at boot: no fault anywhere"));
    }

    /** What the machine's CPUs share about the perf event; each field changes right before a scheduling point. */
    private static final class PerfEvent {
        long buffer;
        boolean armed;
        boolean sampled;
    }

    /** The paging modes this scenario runs in, its default first. */
    static final List<PagingMode> MODES = List.of(PagingMode.X86_64, PagingMode.X86_32, PagingMode.X86_32_PAE,
            PagingMode.X86_64_LA57);

    @Override
    public List<PagingMode> modes(String variant) {
        return MODES;
    }

    @Override
    public Machine build(String variant) {
        return build(variant, modes(variant).get(0));
    }

    @Override
    public Machine build(String variant, PagingMode mode) {
        requireMode(variant, mode);
        boolean lazy = variant(variant).name().equals("lazy-fault");
        VmallocSyncStrategy strategy = lazy ? new LazyFault() : new Preallocate();
        // the strategy's configuration: on PAE, kernel pmds per pgd (PTI), so there is something to sync
        KernelBridge.Booted b = KernelBridge.boot(mode,
                strategy.configure(mode, KernelConfig.defaults().withRam(64L << 20).withCpus(2)), KernelVariant.CORRECT, new ptlab.check.Invariants());
        Kernel k = b.kernel();
        Vmalloc vm = new Vmalloc(k, strategy);
        Machine m = b.machine();
        Task tool = k.createProcess();
        Task p = k.createProcess();
        vm.switchTo(k.cpu(0), tool);
        vm.switchTo(k.cpu(1), p);
        PerfEvent ev = new PerfEvent();
        KernelBridge.KernelFaultHandler doKernAddrFault = (cpu, errorCode, address) ->
                (errorCode & PageFaultError.P) == 0 && vm.kernelFault(cpu.loadedMm(), address);   // vmalloc_fault()
        KernelBridge.addKernelCpu(m, k.cpu(0), cpu -> {
            ev.buffer = vm.vmalloc(k.cpu(0), 2 * 4096);              // perf_mmap -> rb_alloc (vmalloc_user)
            cpu.publish(1);
        });
        Blocker noBuffer = cpu -> ev.buffer == 0;
        Blocker noSample = cpu -> !ev.sampled;
        KernelBridge.addKernelCpu(m, k.cpu(1), cpu -> {
            cpu.await(noBuffer, 1);                                  // the ioctl follows the mmap
            ev.armed = true;                                         // PERF_EVENT_IOC_ENABLE: the counter runs
            cpu.publish(2);
            KernelBridge.kernelAccess(cpu, true, ev.buffer, 0, "process context (perf ioctl, control page)",
                    doKernAddrFault);
            cpu.await(noSample, 2);                                  // P runs until its first sample
        });
        m.addInjection(1, Interrupt.of(Interrupt.Kind.NMI, "NMI (perf counter overflow)", cpu -> {
            KernelBridge.kernelAccess(cpu, true, ev.buffer + 4096, 0xabc, "an NMI handler (perf_output_sample)",
                    doKernAddrFault);
            ev.sampled = true;
            cpu.publish(2);
        }), 1, () -> ev.armed);
        return m;
    }
}
