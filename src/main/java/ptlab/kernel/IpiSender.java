package ptlab.kernel;

/**
 * Delivers a TLB-flush IPI (smp_call_function_many with flush_tlb_func). The sender waits for
 * completion, as native_flush_tlb_multi() does, so {@code info} may be reused afterwards.
 *
 * <p>{@link #SYNCHRONOUS} runs the flush on the target at once, on the caller's thread. A
 * simulation engine can install its own to make delivery an event on the target CPU.
 */
@FunctionalInterface
public interface IpiSender {

    void sendFlushTlb(Cpu from, Cpu target, FlushTlbInfo info);

    IpiSender SYNCHRONOUS = (from, target, info) -> target.flush_tlb_func(info, false);
}
