package ptlab.bench;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import ptlab.engine.Fibers;

/**
 * How to switch between simulated CPUs: one round trip (scheduler → CPU → scheduler) through
 * the {@link Fibers} continuation bridge, against the same hand-off between two platform
 * threads with park/unpark (what the engine would need without continuations; strictly
 * alternating, so it would be deterministic too).
 *
 * <p>Measured on this 2-core machine, JDK 25 (avgt, ns per round trip): see the README
 * ("Simulator speed"); continuations ≈ 0.1 µs, park/unpark hand-off tens of µs.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-exports", "java.base/jdk.internal.vm=ALL-UNNAMED"})
public class FiberSwitchBenchmark {

    @State(Scope.Thread)
    public static class Cont {
        Object fiber;
        long counter;

        @Setup(Level.Trial)
        public void setup() {
            fiber = Fibers.create(() -> {
                for (;;) {
                    counter++;
                    Fibers.yieldFiber();
                }
            });
        }
    }

    @Benchmark
    public long continuationRoundTrip(Cont s) {
        Fibers.resume(s.fiber);
        return s.counter;
    }

    /** Two platform threads passing a turn flag: the caller (scheduler) and a CPU thread. */
    @State(Scope.Thread)
    public static class Threads {
        volatile int turn;          // 0: scheduler runs, 1: CPU runs
        volatile boolean stop;
        Thread cpu;
        Thread scheduler;
        long counter;

        @Setup(Level.Trial)
        public void setup() {
            scheduler = Thread.currentThread();
            cpu = new Thread(() -> {
                while (!stop) {
                    while (turn != 1) {
                        LockSupport.park(this);
                        if (stop) {
                            return;
                        }
                    }
                    counter++;
                    turn = 0;
                    LockSupport.unpark(scheduler);
                }
            });
            cpu.setDaemon(true);
            cpu.start();
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            stop = true;
            LockSupport.unpark(cpu);
        }
    }

    @Benchmark
    public long threadHandOffRoundTrip(Threads s) {
        s.scheduler = Thread.currentThread();
        s.turn = 1;
        LockSupport.unpark(s.cpu);
        while (s.turn != 0) {
            LockSupport.park(this);
        }
        return s.counter;
    }
}
