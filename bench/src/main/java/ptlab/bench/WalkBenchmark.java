package ptlab.bench;

import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

import ptlab.hw.PagingMode;
import ptlab.sim.WalkWorkloads;
import ptlab.sim.WalkWorkloads.Workload;

/**
 * Page-walk cost with A/D already set (no compare-and-swap, no allocation expected: run with
 * {@code -prof gc}). One {@link Workload} per case; each invocation translates one address.
 *
 * <pre>
 *   java --add-exports java.base/jdk.internal.vm=ALL-UNNAMED -jar target/ptlab-bench.jar WalkBenchmark \
 *        -f 1 -wi 2 -i 3 -w 1s -r 1s -prof gc
 * </pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-exports", "java.base/jdk.internal.vm=ALL-UNNAMED", "-Xmx3g"})
public class WalkBenchmark {

    private Workload walk4Same;
    private Workload walk5Same;
    private Workload walk4Random;
    private Workload walk5Random;
    private Workload walk32Same;
    private Workload walkPaeSame;
    private Workload random1g;

    @Setup(Level.Trial)
    public void setUp() {
        walk4Same = WalkWorkloads.samePage(PagingMode.X86_64);
        walk5Same = WalkWorkloads.samePage(PagingMode.X86_64_LA57);
        walk4Random = WalkWorkloads.randomManyPages(PagingMode.X86_64, 1);
        walk5Random = WalkWorkloads.randomManyPages(PagingMode.X86_64_LA57, 2);
        walk32Same = WalkWorkloads.samePage(PagingMode.X86_32);
        walkPaeSame = WalkWorkloads.samePage(PagingMode.X86_32_PAE);
        random1g = WalkWorkloads.random1GiB(PagingMode.X86_64, 42);
    }

    /** 4-level walk of the same page. Target: 15 ns. */
    @Benchmark
    public long walk4SamePage() {
        return walk4Same.translateNext();
    }

    /** 5-level walk of the same page. Target: 19 ns. */
    @Benchmark
    public long walk5SamePage() {
        return walk5Same.translateNext();
    }

    /** 4-level walk, random address among 4096 mapped pages (16 MiB). */
    @Benchmark
    public long walk4RandomPage() {
        return walk4Random.translateNext();
    }

    /** 5-level walk, random address among 4096 mapped pages (16 MiB). */
    @Benchmark
    public long walk5RandomPage() {
        return walk5Random.translateNext();
    }

    /** 2-level 32-bit walk of the same page. */
    @Benchmark
    public long walk32SamePage() {
        return walk32Same.translateNext();
    }

    /** PAE walk (PDPTE register + 2 levels) of the same page. */
    @Benchmark
    public long walkPaeSamePage() {
        return walkPaeSame.translateNext();
    }

    /** 4-level walk, random address in 1 GiB mapped with 4 KiB pages (2 MiB of PTEs). */
    @Benchmark
    public long random1GiB() {
        return random1g.translateNext();
    }

    /** The 1 GiB random workload as throughput: translations per second. */
    @Benchmark
    @BenchmarkMode(Mode.Throughput)
    @OutputTimeUnit(TimeUnit.SECONDS)
    public long random1GiBThroughput() {
        return random1g.translateNext();
    }
}
