package ptlab.engine;

/**
 * Something delivered to a simulated CPU at a scheduling point: a device interrupt, an IPI or
 * an NMI. Its handler runs on that CPU's own stack (a nested call inside the interrupted
 * code), as on real hardware, and may itself reach scheduling points.
 */
public interface Interrupt {

    /** Maskable (blocked while interrupts are disabled) or non-maskable. */
    enum Kind { IRQ, NMI }

    Kind kind();

    /** Vector-like name for traces, e.g. "CALL_FUNCTION_VECTOR" or "NMI". */
    String name();

    void handle(SimCpu cpu);

    /** A named interrupt from a lambda. */
    static Interrupt of(Kind kind, String name, java.util.function.Consumer<SimCpu> handler) {
        return new Interrupt() {
            @Override
            public Kind kind() {
                return kind;
            }

            @Override
            public String name() {
                return name;
            }

            @Override
            public void handle(SimCpu cpu) {
                handler.accept(cpu);
            }
        };
    }
}
