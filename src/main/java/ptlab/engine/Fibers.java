package ptlab.engine;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;

/**
 * The one place that touches {@code jdk.internal.vm.Continuation}: one-shot delimited
 * continuations, the cheapest way to run many simulated CPUs as ordinary Java code on one
 * Java thread and switch between them at every scheduling point.
 *
 * <h2>Why a MethodHandle bridge</h2>
 * The build compiles with {@code --release 21}, and javac refuses {@code --add-exports} for a
 * system module together with {@code --release}, so the source cannot name
 * {@code jdk.internal.vm.Continuation}. The runtime does export the package to the unnamed
 * module (the {@code ptlab} launcher, surefire's argLine and the jar manifest all pass
 * {@code --add-exports java.base/jdk.internal.vm=ALL-UNNAMED}), so the class is found by name
 * here, once, and its four methods are bound to {@code static final} {@link MethodHandle}s with
 * erased types. The JIT treats a {@code static final} MethodHandle as a constant and
 * {@code invokeExact} on it inlines to a direct call, so the bridge costs nothing after warm-up
 * (measured below; the same switch through reflection's {@code Method.invoke} would box and
 * check access on every call).
 *
 * <h2>Measured (JDK 25, this 2-core machine, {@code ptlab.bench.FiberSwitchBenchmark})</h2>
 * See the numbers in that benchmark's comment and in the README: a yield+resume round trip
 * through this bridge costs about a tenth of a microsecond, a hand-off between two platform
 * threads (park/unpark) tens of microseconds, so continuations win by two orders of magnitude.
 *
 * <p>Rule for code run inside a fiber: never yield while holding a Java monitor
 * ({@code synchronized}) or from below a native frame; the continuation would be pinned and
 * {@code yield} fails. Simulated kernel code uses the simulator's own locks, never Java's.
 */
public final class Fibers {

    private static final MethodHandle NEW_SCOPE;   // (String) Object
    private static final MethodHandle NEW;         // (Object scope, Runnable) Object
    private static final MethodHandle RUN;         // (Object) void
    private static final MethodHandle YIELD;       // (Object scope) boolean
    private static final MethodHandle IS_DONE;     // (Object) boolean
    private static final Throwable UNAVAILABLE;
    private static final Object SCOPE;

    static {
        MethodHandle newScope = null, neu = null, run = null, yield = null, isDone = null;
        Object scope = null;
        Throwable why = null;
        try {
            Class<?> scopeClass = Class.forName("jdk.internal.vm.ContinuationScope");
            Class<?> contClass = Class.forName("jdk.internal.vm.Continuation");
            MethodHandles.Lookup l = MethodHandles.lookup();   // our module is the one the package is exported to
            newScope = l.findConstructor(scopeClass, MethodType.methodType(void.class, String.class))
                    .asType(MethodType.methodType(Object.class, String.class));
            neu = l.findConstructor(contClass, MethodType.methodType(void.class, scopeClass, Runnable.class))
                    .asType(MethodType.methodType(Object.class, Object.class, Runnable.class));
            run = l.findVirtual(contClass, "run", MethodType.methodType(void.class))
                    .asType(MethodType.methodType(void.class, Object.class));
            yield = l.findStatic(contClass, "yield", MethodType.methodType(boolean.class, scopeClass))
                    .asType(MethodType.methodType(boolean.class, Object.class));
            isDone = l.findVirtual(contClass, "isDone", MethodType.methodType(boolean.class))
                    .asType(MethodType.methodType(boolean.class, Object.class));
            scope = (Object) newScope.invokeExact("ptlab-cpu");
        } catch (Throwable t) {
            why = t;
        }
        NEW_SCOPE = newScope;
        NEW = neu;
        RUN = run;
        YIELD = yield;
        IS_DONE = isDone;
        SCOPE = scope;
        UNAVAILABLE = why;
    }

    private Fibers() {
    }

    /** True when the JVM exports jdk.internal.vm (run through ./ptlab, the tests, or with the flag). */
    public static boolean available() {
        return UNAVAILABLE == null;
    }

    /** Fails with a message that says how to fix it when continuations are not reachable. */
    public static void requireAvailable() {
        if (UNAVAILABLE != null) {
            throw new IllegalStateException("the simulator needs jdk.internal.vm.Continuation: run java with "
                    + "--add-exports java.base/jdk.internal.vm=ALL-UNNAMED (the ./ptlab launcher does) ["
                    + UNAVAILABLE + "]");
        }
    }

    /** A new suspended fiber that will run {@code body} when first resumed. */
    public static Object create(Runnable body) {
        requireAvailable();
        try {
            return (Object) NEW.invokeExact(SCOPE, body);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Runs {@code fiber} until it yields or finishes; an exception thrown by its body propagates. */
    public static void resume(Object fiber) {
        try {
            RUN.invokeExact(fiber);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Suspends the calling fiber and returns to whoever resumed it. */
    public static void yieldFiber() {
        boolean ok;
        try {
            ok = (boolean) YIELD.invokeExact(SCOPE);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (!ok) {
            throw new IllegalStateException("simulated CPU could not yield (pinned by a monitor or native frame)");
        }
    }

    public static boolean isDone(Object fiber) {
        try {
            return (boolean) IS_DONE.invokeExact(fiber);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) {
            throw r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        throw new IllegalStateException(t);
    }
}
