package ptlab.tools.scenarios;

import java.util.List;

import ptlab.hw.PhysicalMemory;
import ptlab.engine.Machine;
import ptlab.engine.Scenario;

/**
 * {@code bench-2x200}: the engine's throughput yardstick — 2 CPUs, 200 shared-memory operations
 * each (100 load/store pairs over 8 shared words of one frame and a private word), no invariant
 * to break. Used by the JMH exploration benchmark and for the rates in the README.
 */
public final class Bench2x200 implements Scenario {

    static final long SHARED = 0x20000;

    @Override
    public String name() {
        return "bench-2x200";
    }

    @Override
    public String description() {
        return "throughput yardstick: 2 CPUs x 200 shared-memory operations, nothing to find";
    }

    @Override
    public List<Variant> variants() {
        return List.of(new Variant("plain", false, "loads and stores on shared words"));
    }

    @Override
    public Machine build(String variant) {
        variant(variant);
        PhysicalMemory mem = new PhysicalMemory(1L << 20);
        mem.storeLong(SHARED, 0);
        Machine m = new Machine(mem, X86Kit.MODE, new ptlab.check.Invariants());
        for (int c = 0; c < 2; c++) {
            m.addCpu(X86Kit.registers(), cpu -> {
                for (int i = 0; i < 100; i++) {
                    long a = SHARED + ((i & 7) << 3);
                    long v = mem.loadLong(a);
                    mem.storeLong(a, v + 1);
                }
            });
        }
        return m;
    }
}
