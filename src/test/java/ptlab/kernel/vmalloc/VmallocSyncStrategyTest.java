package ptlab.kernel.vmalloc;

import static org.junit.jupiter.api.Assertions.*;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import ptlab.hw.PagingMode;
import ptlab.kernel.KernelConfig;
import ptlab.kernel.KernelLayout;

/**
 * What each strategy declares about itself: the vmalloc-sync study checks a strategy by these
 * answers (a tolerated fault is counted, not a violation; a strategy that syncs on switch is
 * checked only on loaded mms), so a wrong answer hides a bug.
 */
class VmallocSyncStrategyTest {

    private static List<String> names(java.util.function.Predicate<VmallocSyncStrategy> p) {
        List<String> out = new ArrayList<>();
        for (VmallocSyncStrategy s : VmallocSyncStrategy.all()) {
            if (p.test(s)) {
                out.add(s.name());
            }
        }
        return out;
    }

    @Test
    void onlyLazyFaultToleratesVmallocFaults() {
        assertEquals(List.of("lazy-fault"), names(VmallocSyncStrategy::toleratesFaults),
                "an eager strategy's vmalloc fault is a violation, not a cost");
    }

    @Test
    void onlySwitchCheckBringsAnMmUpToDateAtTheSwitch() {
        assertEquals(List.of("switch-check"), names(VmallocSyncStrategy::syncsOnSwitch),
                "every other strategy must keep every process's pgd complete");
    }

    @Test
    void onlyBrokenNoSyncIsDeliberatelyBrokenAndItIsListedLast() {
        assertEquals(List.of("broken-no-sync"), names(VmallocSyncStrategy::broken));
        List<VmallocSyncStrategy> all = VmallocSyncStrategy.all();
        assertTrue(all.get(all.size() - 1).broken());
    }

    /** The CLI names (DESIGN.md's --strategies values) are kept exactly, in this order. */
    @Test
    void theStrategiesAreListedByTheirCliNames() {
        assertEquals(List.of("lazy-fault", "eager-walk", "eager-generation", "switch-check", "tracked-mask",
                "preallocate", "shared-top", "broken-no-sync"), names(s -> true));
    }

    @Test
    void byNameFindsEveryStrategyAndNamesTheKnownOnesOtherwise() {
        for (VmallocSyncStrategy s : VmallocSyncStrategy.all()) {
            assertEquals(s.getClass(), VmallocSyncStrategy.byName(s.name()).getClass());
            assertFalse(s.description().isBlank(), s.name());
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> VmallocSyncStrategy.byName("eager"));
        assertTrue(e.getMessage().contains("'eager'"), e.getMessage());
        assertTrue(e.getMessage().contains("(known: lazy-fault, eager-walk,"), e.getMessage());
        assertTrue(e.getMessage().endsWith("broken-no-sync)"), e.getMessage());
    }

    /** On PAE every strategy but shared-top runs with PTI's unshared kernel pmds; elsewhere the config is left alone. */
    @ParameterizedTest
    @EnumSource(PagingMode.class)
    void onPaeOnlySharedTopSharesTheKernelPmd(PagingMode mode) {
        for (boolean shared : new boolean[] {false, true}) {
            KernelConfig base = KernelConfig.defaults().withSharedKernelPmd(shared);
            for (VmallocSyncStrategy s : VmallocSyncStrategy.all()) {
                KernelConfig c = s.configure(mode, base);
                if (mode.isPae()) {
                    assertEquals(s instanceof SharedTop, c.sharedKernelPmd(), s.name());
                } else {
                    assertEquals(base, c, s.name() + " on " + mode);
                }
            }
        }
    }

    /** Strategies without boot-time tables allocate none; the default vmalloc range is the whole area. */
    @ParameterizedTest
    @EnumSource(PagingMode.class)
    void defaultsAreTheWholeVmallocAreaAndNoBootTables(PagingMode mode) {
        KernelLayout l = KernelLayout.of(mode, mode.isLongMode() ? null : ptlab.kernel.VmSplit.VMSPLIT_3G, 256L << 20, null);
        for (VmallocSyncStrategy s : VmallocSyncStrategy.all()) {
            if (s instanceof Preallocate || s instanceof SharedTop) {
                continue;
            }
            assertEquals(0, s.bootTableBytes(), s.name());
            assertArrayEquals(new long[] {l.vmallocStart(), l.vmallocEnd() + 1}, s.vmallocRange(l), s.name());
        }
    }
}
