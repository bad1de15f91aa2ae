package ptlab.engine;

import java.util.function.Supplier;

/** {@link MachineTest#scenario} for tests in other packages. */
public final class MachineTestAccess {
    private MachineTestAccess() {
    }

    public static Scenario scenario(String name, Supplier<Machine> build) {
        return MachineTest.scenario(name, build);
    }
}
