package ptlab.kernel;

/**
 * Something of the kernel with a name for traces and messages ({@code "mm3->context.tlb_gen"}):
 * a shared variable, given to {@link Interleaving#locate}. Names are put together only when asked
 * for: a search makes tens of them per schedule and asks for almost none.
 */
public interface Named {

    String name();
}
