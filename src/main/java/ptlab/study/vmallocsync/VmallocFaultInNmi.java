package ptlab.study.vmallocsync;

import java.util.List;

import ptlab.hw.PagingMode;
import ptlab.kernel.FrameUse;
import ptlab.kernel.Kernel;
import ptlab.kernel.KernelConfig;
import ptlab.kernel.KernelVariant;
import ptlab.kernel.MmStruct;
import ptlab.kernel.Task;
import ptlab.kernel.vmalloc.LazyFault;
import ptlab.kernel.vmalloc.Preallocate;
import ptlab.kernel.vmalloc.Vmalloc;
import ptlab.kernel.vmalloc.VmallocSyncStrategy;
import ptlab.engine.Interrupt;
import ptlab.engine.KernelBridge;
import ptlab.engine.Machine;
import ptlab.engine.Scenario;

/**
 * {@code vmalloc-fault-in-nmi}: mail 003's hazard. CPU0 vmallocs a perf ring buffer and
 * publishes it; CPU1 runs a process created before, and perf NMIs on CPU1 write samples into
 * the buffer. Under {@code lazy-fault} the NMI handler's first touch finds CPU1's pgd without
 * the new entry and takes a #PF inside the NMI; the fault's IRET unblocks NMIs although the
 * NMI handler has not returned ("iret unblocks NMI's, because there is no dedicated 'nmiret'
 * instruction"), so a second NMI could nest on the NMI stack. Invariant 5 catches the fault in
 * NMI; {@code preallocate} (the x86-64 answer since v5.9) never faults there.
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

    @Override
    public Machine build(String variant) {
        boolean lazy = variant(variant).name().equals("lazy-fault");
        VmallocSyncStrategy strategy = lazy ? new LazyFault() : new Preallocate();
        KernelBridge.Booted b = KernelBridge.boot(PagingMode.X86_64, KernelConfig.defaults().withRam(64L << 20).withCpus(2),
                KernelVariant.CORRECT);
        Kernel k = b.kernel();
        Vmalloc vm = new Vmalloc(k, strategy);
        Machine m = b.machine();
        Task perf = k.createProcess();
        Task old = k.createProcess();
        vm.switchTo(k.cpu(0), perf);
        vm.switchTo(k.cpu(1), old);
        long published = k.allocator().allocFrame(0, FrameUse.KERNEL);
        MmStruct mm = old.mm();
        KernelBridge.addKernelCpu(m, k.cpu(0), cpu -> {
            long buf = vm.vmalloc(k.cpu(0), 4096);                   // perf_mmap -> rb_alloc (vmalloc_user)
            k.memory().storeLong(published, buf);
        });
        KernelBridge.addKernelCpu(m, k.cpu(1), cpu -> {
            for (int i = 0; i < 40; i++) {
                k.memory().loadLong(published);                      // CPU1 keeps running: NMIs land between these
            }
        });
        m.addInjection(1, Interrupt.of(Interrupt.Kind.NMI, "NMI (perf)", cpu -> {
            long[] buf = new long[2];
            m.unobserved(() -> buf[0] = k.memory().loadLong(published));
            if (buf[0] == 0) {
                return;                                              // no buffer yet: nothing to sample into
            }
            m.unobserved(() -> buf[1] = k.lookup(mm, buf[0]));
            if (buf[1] < 0) {
                cpu.exception("#PF", buf[0], () -> vm.kernelFault(mm, buf[0]));   // vmalloc_fault() in NMI context
            }
            KernelBridge.checkKernelMapping(cpu, mm, buf[0], "an NMI handler");
        }), 40);
        return m;
    }
}
