package ptlab.study.faultlocking;

import java.util.List;

import ptlab.engine.Machine;
import ptlab.engine.Scenario;
import ptlab.hw.PagingMode;
import ptlab.kernel.FaultLocking;

/**
 * What the fault-locking explore scenarios share: each variant is a {@link FaultLocking} path
 * of the same name, each runs in every paging mode (x86-64 first), and each builds one
 * {@link FaultKit} of {@link #cpus()} CPUs and then sets up its own race in {@link #setUp}.
 */
abstract class FaultScenario implements Scenario {

    /** The paging modes these scenarios run in, their default first. */
    static final List<PagingMode> MODES = List.of(PagingMode.X86_64, PagingMode.X86_32, PagingMode.X86_32_PAE,
            PagingMode.X86_64_LA57);

    /** CPUs in the race (thread i of the one process runs on CPU i). */
    abstract int cpus();

    /** Maps, pre-faults and adds the CPUs' programs and end checks to {@code kit}'s machine. */
    abstract void setUp(FaultKit kit);

    @Override
    public final List<PagingMode> modes(String variant) {
        return MODES;
    }

    @Override
    public final Machine build(String variant) {
        return build(variant, modes(variant).get(0));
    }

    @Override
    public final Machine build(String variant, PagingMode mode) {
        requireMode(variant, mode);
        FaultKit kit = new FaultKit(FaultLocking.byName(variant(variant).name()), cpus(), mode);
        setUp(kit);
        return kit.machine;
    }
}
