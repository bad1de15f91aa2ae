package ptlab.bench;

import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import ptlab.engine.Machine;
import ptlab.engine.Scenario;
import ptlab.tools.Scenarios;
import ptlab.engine.Strategies;
import ptlab.engine.Strategy;

/**
 * The explorer's rates on {@code bench-2x200} (2 CPUs, 200 shared-memory operations each:
 * 402 scheduling steps per schedule including each CPU's start):
 * <ul>
 * <li>{@link #schedule}: schedules/s — build the machine, run one whole schedule with the
 *     strategy, as {@code ptlab explore} does for every schedule;</li>
 * <li>{@link #steps}: the same, counted in scheduling steps/s;</li>
 * <li>{@link #scenario}: schedules/s of the real scenarios (pte-clear-vs-dirty xchg: a walk
 *     through 4 levels, TLB, IPIs).</li>
 * <li>{@link #kernelScenario}: schedules/s of a kernel-level scenario (tlb-stale-after-unmap
 *     munmap-shootdown: the kernel layer's munmap, mmu_gather and shootdown against a reading
 *     CPU), each machine from the scenario's machine supplier as the explorer takes them (the
 *     kernel restored from the search's boot image);</li>
 * <li>{@link #kernelScenarioBuild}: the same scenario's machine made that way (kernel restored,
 *     process set up, CPUs added) and not run: what starting each schedule costs;</li>
 * <li>{@link #kernelScenarioBoot}: the same with a fresh boot per machine ({@code build}), as
 *     before boot images.</li>
 * </ul>
 * {@code scripts/explore-rate.sh} measures the same through the CLI, JIT warm-up included.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
// The collector and young generation ./ptlab runs with (see the launcher): without the fixed
// young generation the collector keeps resizing it, and a 2 s iteration ran anywhere from 2,500 to
// 20,000 kernel schedules/s.
@Fork(value = 1, jvmArgsAppend = {"--add-exports", "java.base/jdk.internal.vm=ALL-UNNAMED", "-XX:+UseParallelGC",
        "-Xmn256m", "-XX:-UseAdaptiveSizePolicy"})
@State(Scope.Thread)
public class ExploreBenchmark {

    static final int STEPS = 402;

    @Param({"random", "pct"})
    public String strategy;

    Scenario bench;
    Scenario pte;
    Scenario tlb;
    final int[] trail = new int[100_000];
    final Strategies.Random random = new Strategies.Random();
    final Strategies.Pct pct = new Strategies.Pct(3);
    long seed;

    java.util.function.Supplier<Machine> tlbMachines;

    @Setup(Level.Trial)
    public void setup() {
        bench = Scenarios.byName("bench-2x200");
        pte = Scenarios.byName("pte-clear-vs-dirty");
        tlb = Scenarios.byName("tlb-stale-after-unmap");
        tlbMachines = tlb.machines("munmap-shootdown");
    }

    private Strategy strategy(Machine m, int k) {
        seed++;
        if (strategy.equals("pct")) {
            pct.reset(seed, m.choiceCount(), k);
            return pct;
        }
        random.reset(seed);
        return random;
    }

    private long runOne(Scenario sc, String variant, int k) {
        return runOn(sc.build(variant), k);
    }

    private long runOn(Machine m, int k) {
        Machine.Outcome o = m.run(strategy(m, k), trail, trail.length);
        if (o != Machine.Outcome.DONE) {
            throw new IllegalStateException(o + " " + m.violation());
        }
        return m.steps();
    }

    @Benchmark
    public long schedule() {
        return runOne(bench, "plain", STEPS);
    }

    @Benchmark
    @OperationsPerInvocation(STEPS)
    public long steps() {
        return runOne(bench, "plain", STEPS);
    }

    @Benchmark
    public long scenario() {
        return runOne(pte, "xchg", 20);
    }

    @Benchmark
    public long kernelScenario() {
        return runOn(tlbMachines.get(), 30);
    }

    @Benchmark
    public Machine kernelScenarioBuild() {
        return tlbMachines.get();
    }

    @Benchmark
    public Machine kernelScenarioBoot() {
        return tlb.build("munmap-shootdown");
    }
}
