package ptlab.kernel;

/**
 * Delivers TLB-flush requests to other CPUs: native_flush_tlb_multi() (Linux v6.6
 * arch/x86/mm/tlb.c) over on_each_cpu_mask() / smp_call_function_many_cond() (kernel/smp.c).
 *
 * <p>Linux queues the request on every target and sends all the IPIs first, then runs the
 * function on the sending CPU itself when it is in the mask, and only then waits for every
 * target's acknowledgement: a shootdown costs one round trip plus one ICR write per target,
 * not a round trip per target. The sender waits for completion, so {@code info} may be reused
 * afterwards.
 *
 * <p>{@link #SYNCHRONOUS} runs the flush on each target at once, on the caller's thread. A
 * simulation engine installs its own, making delivery an event on each target CPU and telling
 * the kernel which CPU its code runs on ({@link #thisCpu}).
 */
@FunctionalInterface
public interface IpiSender {

    /**
     * Runs {@code flush_tlb_func(info)} on every CPU of {@code mask} (CPU i = {@code cpus[i]}):
     * IPIs to all targets other than {@code self}, then the local call if {@code self} is in
     * the mask, then the wait for all acknowledgements. {@code self} is null when the caller
     * runs on no CPU (then every target is remote).
     */
    void flushTlbMulti(Cpu self, Cpu[] cpus, Cpumask mask, FlushTlbInfo info);

    /**
     * smp_processor_id(): the CPU the calling kernel code runs on, or null when it runs on none
     * (outside a simulation). A caller that names no CPU (a task not running, a lazy purge) is
     * still executing somewhere, and that CPU's own TLB must be flushed locally — an IPI to
     * oneself is never sent.
     */
    default Cpu thisCpu() {
        return null;
    }

    IpiSender SYNCHRONOUS = (self, cpus, mask, info) -> {
        for (Cpu target : cpus) {
            if (target != self && mask.test(target.id())) {
                target.flush_tlb_func(info, false);
            }
        }
        if (self != null && mask.test(self.id())) {
            self.flush_tlb_func(info, true);
        }
    };
}
