package ptlab.bench;

import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

import ptlab.hw.PagingMode;
import ptlab.tools.WalkWorkloads;
import ptlab.tools.WalkWorkloads.Workload;

/**
 * Page-walk cost with A/D already set (no compare-and-swap, no allocation expected: run with
 * {@code -prof gc}). One {@link Workload} per case; each invocation translates one address.
 *
 * <pre>
 *   java --add-exports java.base/jdk.internal.vm=ALL-UNNAMED -jar target/ptlab-bench.jar WalkBenchmark \
 *        -f 1 -wi 2 -i 3 -w 1s -r 1s -prof gc
 * </pre>
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
// The collector ./ptlab runs with (see the launcher): G1's reference-store barrier is on the walk path.
@Fork(value = 1, jvmArgsAppend = {"--add-exports", "java.base/jdk.internal.vm=ALL-UNNAMED", "-Xmx3g", "-XX:+UseParallelGC"})
public class WalkBenchmark {

    // One state per workload, so that each benchmark's fork builds only the tables it walks.

    @State(Scope.Thread)
    public static class Walk4Same {
        Workload w;

        @Setup(Level.Trial)
        public void setUp() {
            w = WalkWorkloads.samePage(PagingMode.X86_64);
        }
    }

    @State(Scope.Thread)
    public static class Walk5Same {
        Workload w;

        @Setup(Level.Trial)
        public void setUp() {
            w = WalkWorkloads.samePage(PagingMode.X86_64_LA57);
        }
    }

    @State(Scope.Thread)
    public static class Walk4Random {
        Workload w;

        @Setup(Level.Trial)
        public void setUp() {
            w = WalkWorkloads.randomManyPages(PagingMode.X86_64, 1);
        }
    }

    @State(Scope.Thread)
    public static class Walk5Random {
        Workload w;

        @Setup(Level.Trial)
        public void setUp() {
            w = WalkWorkloads.randomManyPages(PagingMode.X86_64_LA57, 2);
        }
    }

    @State(Scope.Thread)
    public static class Walk32Same {
        Workload w;

        @Setup(Level.Trial)
        public void setUp() {
            w = WalkWorkloads.samePage(PagingMode.X86_32);
        }
    }

    @State(Scope.Thread)
    public static class WalkPaeSame {
        Workload w;

        @Setup(Level.Trial)
        public void setUp() {
            w = WalkWorkloads.samePage(PagingMode.X86_32_PAE);
        }
    }

    @State(Scope.Thread)
    public static class Random1GiB {
        Workload w;

        @Setup(Level.Trial)
        public void setUp() {
            w = WalkWorkloads.random1GiB(PagingMode.X86_64, 42);
        }
    }

    /** 4-level translation of the same page through the Mmu: a TLB hit. Target: 6 ns. */
    @Benchmark
    public long tlbHit(Walk4Same s) {
        return s.w.translateNextMmu();
    }

    /** 4-level walk of the same page. Target: 15 ns. */
    @Benchmark
    public long walk4SamePage(Walk4Same s) {
        return s.w.translateNext();
    }

    /** 5-level walk of the same page. Target: 19 ns. */
    @Benchmark
    public long walk5SamePage(Walk5Same s) {
        return s.w.translateNext();
    }

    /** 4-level walk, random address among 4096 mapped pages (16 MiB). */
    @Benchmark
    public long walk4RandomPage(Walk4Random s) {
        return s.w.translateNext();
    }

    /** 5-level walk, random address among 4096 mapped pages (16 MiB). */
    @Benchmark
    public long walk5RandomPage(Walk5Random s) {
        return s.w.translateNext();
    }

    /** 2-level 32-bit walk of the same page. */
    @Benchmark
    public long walk32SamePage(Walk32Same s) {
        return s.w.translateNext();
    }

    /** PAE walk (PDPTE register + 2 levels) of the same page. */
    @Benchmark
    public long walkPaeSamePage(WalkPaeSame s) {
        return s.w.translateNext();
    }

    /** 4-level walk, random address in 1 GiB mapped with 4 KiB pages (2 MiB of PTEs). */
    @Benchmark
    public long random1GiB(Random1GiB s) {
        return s.w.translateNext();
    }

    // The same four cases, BATCH translations per invocation (Workload.run, the loop `ptlab bench
    // walk` times): JMH's own cost per invocation (its loop, the result to the blackhole) is about
    // 3.5 ns on this 2-CPU VM, as much as a TLB hit; bench/baseline/walk.c times a loop of 8192
    // translations too, so these are the figures to compare with it (scripts/walk-jmh.sh).
    static final int BATCH = 256;

    /** {@link #tlbHit}, {@value #BATCH} per invocation. */
    @Benchmark
    @OperationsPerInvocation(BATCH)
    public long tlbHitBatch(Walk4Same s) {
        return s.w.runMmu(BATCH);
    }

    /** {@link #walk4SamePage}, {@value #BATCH} per invocation. */
    @Benchmark
    @OperationsPerInvocation(BATCH)
    public long walk4SamePageBatch(Walk4Same s) {
        return s.w.run(BATCH);
    }

    /** {@link #walk5SamePage}, {@value #BATCH} per invocation. */
    @Benchmark
    @OperationsPerInvocation(BATCH)
    public long walk5SamePageBatch(Walk5Same s) {
        return s.w.run(BATCH);
    }

    /** {@link #random1GiB}, {@value #BATCH} per invocation. */
    @Benchmark
    @OperationsPerInvocation(BATCH)
    public long random1GiBBatch(Random1GiB s) {
        return s.w.run(BATCH);
    }

    /** The 1 GiB random workload as throughput: translations per second. */
    @Benchmark
    @BenchmarkMode(Mode.Throughput)
    @OutputTimeUnit(TimeUnit.SECONDS)
    public long random1GiBThroughput(Random1GiB s) {
        return s.w.translateNext();
    }
}
