package ptlab.kernel;

import ptlab.hw.CpuRegisters;
import ptlab.hw.Mmu;

/**
 * arch/x86/mm/tlb.c (Linux v6.6): context switch of address spaces ({@link #switch_mm_irqs_off}), lazy TLB
 * mode, the PCID/ASID cache, and TLB shootdown ({@link #flush_tlb_mm_range}).
 *
 * <p>The protocol is tlb_gen based (Lutomirski, 4.14+): every flush request increments the
 * mm's {@code tlb_gen}; each CPU remembers, per ASID, the generation its TLB is flushed to. A
 * CPU that receives a request it has already satisfied does nothing; one that was switched away
 * (or lazy and skipped) catches up when it next loads the mm and sees its generation behind.
 *
 * <p>Ordering invariant (switch_mm_irqs_off vs. flush_tlb_mm_range): a switching CPU sets its
 * bit in mm_cpumask <em>before</em> reading tlb_gen; a flusher increments tlb_gen
 * <em>before</em> reading mm_cpumask. So either the flusher sees the bit and sends an IPI, or
 * the switching CPU sees the new generation and flushes itself.
 */
public final class TlbFlush {

    /** tlb_single_page_flush_ceiling: above this many pages a range flush becomes a full flush. */
    public static final int TLB_SINGLE_PAGE_FLUSH_CEILING = 33;

    private final Cpu[] cpus;
    /** cpu_online_mask: every CPU, fixed at boot (flush_tlb_kernel_range's on_each_cpu). */
    private final Cpumask online;
    private final boolean pcid;
    private MmStruct init_mm;
    private IpiSender ipi = IpiSender.SYNCHRONOUS;
    /** KernelVariant bugs, fixed at construction. */
    private final boolean skipFlush;
    private final boolean localFlushOnly;
    private final boolean tlbGenBeforeCpumask;
    private long flushRequests;
    private long ipisSent;
    private long lazySkipped;

    TlbFlush(Cpu[] cpus, boolean pcid, KernelVariant variant) {
        this.cpus = cpus;
        this.online = new Cpumask(cpus.length);
        online.setAll();
        this.pcid = pcid;
        this.skipFlush = variant.has(KernelVariant.Bug.SKIP_FLUSH);
        this.localFlushOnly = variant.has(KernelVariant.Bug.LOCAL_FLUSH_ONLY);
        this.tlbGenBeforeCpumask = variant.has(KernelVariant.Bug.TLB_GEN_BEFORE_CPUMASK);
    }

    /** nr_cpu_ids. */
    int nrCpus() {
        return cpus.length;
    }

    void setInitMm(MmStruct initMm) {
        this.init_mm = initMm;
    }

    public void setIpiSender(IpiSender sender) {
        this.ipi = sender == null ? IpiSender.SYNCHRONOUS : sender;
    }

    public long flushRequests() {
        return flushRequests;
    }

    public long ipisSent() {
        return ipisSent;
    }

    /** IPIs not sent because the target was in lazy TLB mode and no page table was freed. */
    public long lazySkipped() {
        return lazySkipped;
    }

    // ---- context switch ------------------------------------------------------------------------

    /**
     * switch_mm_irqs_off(prev, next): make {@code next} the mm this CPU's CR3 points at. Loading
     * the same mm again (after lazy mode) only checks whether flushes were missed.
     */
    public void switch_mm_irqs_off(Cpu cpu, MmStruct next) {
        MmStruct prev = cpu.loadedMmLocal();
        if (prev == next) {
            if (!cpu.isLazyLocal()) {
                return;
            }
            cpu.is_lazy.set(0);
            long gen = readGenAndSetCpumask(cpu, next);
            if (cpu.ctxTlbGen[cpu.loaded_asid] == gen) {
                return;
            }
            flushLocalFull(cpu);                     // we skipped flushes while lazy
            cpu.ctxTlbGen[cpu.loaded_asid] = gen;
            return;
        }
        long gen = readGenAndSetCpumask(cpu, next);
        int asid = choose_new_asid(cpu, next, gen);
        boolean needFlush = asid < 0;
        asid = needFlush ? -asid - 1 : asid;
        load_new_mm_cr3(cpu, next.pgd(), asid, needFlush);   // mm->pgd: a shared read
        // Stop remote flushes for prev. Linux v6.6 clears the bit just before the CR3 write, with
        // interrupts off, when this CPU can no longer use prev's translations; the model clears it
        // once CR3 no longer points at prev, so that invariant 3's check at a free (which looks at
        // each CPU's current PCID) never sees a CPU that still has prev loaded but no bit.
        if (prev != null && prev != init_mm) {
            prev.cpumaskClear(cpu.id());
        }
        cpu.ctxId[asid] = next.ctx_id;
        cpu.ctxTlbGen[asid] = gen;
        cpu.loaded_mm.set(next);                     // this_cpu_write(cpu_tlbstate.loaded_mm, next)
        cpu.loaded_asid = asid;
        if (cpu.isLazyLocal()) {
            cpu.is_lazy.set(0);
        }
    }

    /**
     * The ordering of the class comment: set this CPU's bit in mm_cpumask, then read tlb_gen
     * (switch_mm_irqs_off: cpumask_set_cpu; then atomic64_read(&next->context.tlb_gen)). The
     * broken variant reads first: a flusher that bumps tlb_gen between the read and the set
     * sees no bit, sends no IPI, and this CPU believes its TLB is current.
     */
    private long readGenAndSetCpumask(Cpu cpu, MmStruct next) {
        if (tlbGenBeforeCpumask) {
            long gen = next.tlb_gen.get();
            if (next != init_mm) {
                next.cpumaskSet(cpu.id());
            }
            return gen;
        }
        if (next != init_mm) {
            next.cpumaskSet(cpu.id());               // before reading tlb_gen (see class comment)
        }
        return next.tlb_gen.get();
    }

    /**
     * choose_new_asid(): the ASID already holding {@code next} (no flush needed if it is up to
     * date), else the next one round-robin. Returns the ASID, or {@code -asid-1} when the CR3
     * write must flush it.
     */
    private int choose_new_asid(Cpu cpu, MmStruct next, long nextTlbGen) {
        if (!pcid) {
            return -1;                               // ASID 0, and every CR3 write flushes
        }
        for (int asid = 0; asid < Cpu.TLB_NR_DYN_ASIDS; asid++) {
            if (cpu.ctxId[asid] == next.ctx_id) {
                return cpu.ctxTlbGen[asid] < nextTlbGen ? -asid - 1 : asid;
            }
        }
        int asid = cpu.next_asid;
        cpu.next_asid = (asid + 1) % Cpu.TLB_NR_DYN_ASIDS;
        return -asid - 1;
    }

    /** kern_pcid(): PCID 0 is left for no-PCID use; ASID n runs as PCID n+1. */
    private static int kern_pcid(int asid) {
        return asid + 1;
    }

    /** load_new_mm_cr3(): CR3 = pgd | PCID, with the no-flush bit when the ASID is up to date. */
    private void load_new_mm_cr3(Cpu cpu, long pgd, int asid, boolean needFlush) {
        long cr3 = pgd;
        if (pcid) {
            cr3 |= kern_pcid(asid);
            if (!needFlush) {
                cr3 |= CpuRegisters.CR3_NOFLUSH;
            }
        }
        cpu.cr3Writes++;
        if (!cpu.mmu().writeCr3(cr3)) {
            throw new IllegalStateException(String.format("%s: CR3 load of 0x%x took #GP (bad PDPTE)", cpu, cr3));
        }
        if (needFlush) {
            cpu.fullFlushes++;
        }
    }

    /**
     * After {@code mm->pgd} moved (a migrated top-level table): a CPU with {@code mm} loaded
     * reloads CR3 with the new pgd, flushing its TLB and paging-structure caches (a full flush:
     * the old pgd must drop out of every cache before it is freed). A CPU holding another mm
     * has nothing to do; a lazy one picks the new pgd up at its next switch_mm.
     */
    public void reload_mm_cr3(Cpu cpu, MmStruct mm) {
        if (cpu.loadedMmLocal() != mm) {
            return;
        }
        load_new_mm_cr3(cpu, mm.pgd(), cpu.loaded_asid, true);      // mm->pgd: a shared read
        cpu.ctxTlbGen[cpu.loaded_asid] = mm.tlb_gen.get();
    }

    /** enter_lazy_tlb(): a kernel thread keeps the previous mm loaded. */
    public void enter_lazy_tlb(Cpu cpu) {
        if (cpu.loadedMmLocal() != init_mm) {
            cpu.is_lazy.set(1);
        }
    }

    /** leave_mm(): stop using a lazily-held mm; CR3 goes to init_mm's tables. */
    public void leave_mm(Cpu cpu) {
        if (cpu.loadedMmLocal() == init_mm) {
            return;
        }
        cpu.leaveMms++;
        switch_mm_irqs_off(cpu, init_mm);
    }

    // ---- flushing ----------------------------------------------------------------------------------

    /** flush_tlb_mm(mm): everything of {@code mm}, on every CPU that may cache it. */
    public void flush_tlb_mm(Cpu self, MmStruct mm) {
        flush_tlb_mm_range(self, mm, 0, FlushTlbInfo.TLB_FLUSH_ALL, 12, false);
    }

    /** flush_tlb_page(vma, addr). */
    public void flush_tlb_page(Cpu self, MmStruct mm, long addr) {
        flush_tlb_mm_range(self, mm, addr, addr + 4096, 12, false);
    }

    /**
     * flush_tlb_mm_range(mm, start, end, stride_shift, freed_tables) (Linux v6.6
     * arch/x86/mm/tlb.c): bump the mm's tlb_gen, then one native_flush_tlb_multi() over
     * mm_cpumask — IPIs to the other CPUs (skipping those in lazy TLB mode unless page tables
     * were freed: on_each_cpu_cond_mask(tlb_is_not_lazy, ...)), the local flush if this CPU
     * has the mm loaded, then the wait for all acknowledgements ({@link IpiSender}).
     *
     * <p>{@code caller} is the CPU the caller says it runs on, or null when it names none (a
     * syscall for a task not running, pud_populate's flush on PAE). The CPU actually executing
     * ({@link IpiSender#thisCpu}) takes precedence: it flushes itself locally, as
     * get_cpu() makes the kernel's own CPU local in Linux; only outside a simulation, with no
     * CPU at all, does every target get an IPI.
     */
    public void flush_tlb_mm_range(Cpu caller, MmStruct mm, long start, long end, int strideShift, boolean freedTables) {
        if (skipFlush) {
            return;
        }
        Cpu self = thisCpu(caller);
        flushRequests++;
        // Ranges above the ceiling become full flushes (flush_tlb_mm_range: tlb_single_page_flush_ceiling).
        if (end != FlushTlbInfo.TLB_FLUSH_ALL
                && Long.compareUnsigned((end - start) >>> strideShift, TLB_SINGLE_PAGE_FLUSH_CEILING) > 0) {
            start = 0;
            end = FlushTlbInfo.TLB_FLUSH_ALL;
        }
        long newGen = mm.tlb_gen.addAndGet(1);        // inc_mm_tlb_gen(): before reading mm_cpumask
        FlushTlbInfo info = self != null ? self.flushInfo : new FlushTlbInfo();
        info.set(mm, start, end, strideShift, freedTables, newGen, self == null ? -1 : self.id());
        Cpumask targets = self != null ? self.flushTargets : new Cpumask(cpus.length);
        targets.clearAll();
        if (self != null && self.loadedMmLocal() == mm) {
            targets.set(self.id());
        }
        if (!localFlushOnly) {
            collectRemoteTargets(self, mm, freedTables, targets);
        }
        if (!targets.isEmpty()) {
            ipi.flushTlbMulti(self, cpus, targets, info);
        }
    }

    /**
     * The other CPUs of mm_cpumask that need the IPI: for_each_cpu over the mask, one shared
     * read per word (so with up to 64 CPUs a single read, as before cpumasks had words), minus
     * the lazy ones when no page table was freed (on_each_cpu_cond_mask(tlb_is_not_lazy)).
     */
    private void collectRemoteTargets(Cpu self, MmStruct mm, boolean freedTables, Cpumask targets) {
        for (int w = 0; w < mm.cpumaskWords(); w++) {
            long bits = mm.cpumaskWord(w);
            for (; bits != 0; bits &= bits - 1) {
                Cpu target = cpus[(w << 6) + Long.numberOfTrailingZeros(bits)];
                if (target == self) {
                    continue;
                }
                if (!freedTables && target.isLazy()) {     // tlb_is_not_lazy(): another CPU's is_lazy
                    lazySkipped++;                         // it catches up via tlb_gen when it returns
                    continue;
                }
                ipisSent++;
                targets.set(target.id());
            }
        }
    }

    /** The CPU executing the caller: the engine's running CPU if there is one, else what the caller named. */
    private Cpu thisCpu(Cpu caller) {
        Cpu here = ipi.thisCpu();
        return here != null ? here : caller;
    }

    /**
     * flush_tlb_func(): the flush on one CPU. A lazy CPU leaves the mm instead (it must not walk
     * tables that are being freed). Otherwise: nothing if the CPU is already at the mm's
     * generation; the requested pages by INVLPG if this request is exactly the next
     * generation; else a full flush (CR3 reload, which on PAE also reloads the PDPTEs).
     */
    void flush_tlb_func(Cpu cpu, FlushTlbInfo f, boolean local) {
        if (!local) {
            cpu.ipisReceived++;
        }
        if (f.mm == null) {
            flushKernelRange(cpu, f);
            return;
        }
        if (cpu.isLazyLocal()) {
            leave_mm(cpu);
            return;
        }
        MmStruct loaded = cpu.loadedMmLocal();
        if (loaded != f.mm) {
            return;                                   // switched away since the IPI was sent
        }
        int asid = cpu.loaded_asid;
        long localGen = cpu.ctxTlbGen[asid];
        if (f.new_tlb_gen != 0 && f.new_tlb_gen <= localGen) {
            // Linux v6.6 flush_tlb_func: already flushed up to this request's generation (a
            // later request got here first, or a context switch caught up); mm_tlb_gen is not
            // even read, though the CPU may still be behind it.
            return;
        }
        long mmGen = loaded.tlb_gen.get();
        if (localGen == mmGen) {
            return;
        }
        if (f.end != FlushTlbInfo.TLB_FLUSH_ALL && f.new_tlb_gen == localGen + 1 && f.new_tlb_gen == mmGen) {
            Mmu mmu = cpu.mmu();
            for (long addr = f.start; Long.compareUnsigned(addr, f.end) < 0; addr += 1L << f.stride_shift) {
                mmu.invlpg(addr);                     // flush_tlb_one_user()
                cpu.pageFlushes++;
            }
        } else {
            flushLocalFull(cpu);
        }
        cpu.ctxTlbGen[asid] = mmGen;
    }

    /** flush_tlb_local(): reload CR3 without the no-flush bit (drops this PCID's non-global entries). */
    private void flushLocalFull(Cpu cpu) {
        long cr3 = cpu.registers().cr3();
        cpu.cr3Writes++;
        cpu.fullFlushes++;
        if (!cpu.mmu().writeCr3(cr3)) {
            throw new IllegalStateException(String.format("%s: CR3 reload of 0x%x took #GP", cpu, cr3));
        }
    }

    // ---- kernel mappings --------------------------------------------------------------------------

    /**
     * flush_tlb_kernel_range() (Linux v6.6 arch/x86/mm/tlb.c): on_each_cpu() — every CPU drops
     * the range, global entries included (INVLPG, or all); the executing CPU locally, the
     * others by IPI, sent together before the wait.
     */
    public void flush_tlb_kernel_range(Cpu caller, long start, long end) {
        if (skipFlush) {
            return;
        }
        Cpu self = thisCpu(caller);
        flushRequests++;
        FlushTlbInfo info = self != null ? self.flushInfo : new FlushTlbInfo();
        info.set(null, start, end, 12, false, 0, self == null ? -1 : self.id());
        ipisSent += self != null ? cpus.length - 1 : cpus.length;
        ipi.flushTlbMulti(self, cpus, online, info);
    }

    /** flush_tlb_all(). */
    public void flush_tlb_all(Cpu self) {
        flush_tlb_kernel_range(self, 0, FlushTlbInfo.TLB_FLUSH_ALL);
    }

    private void flushKernelRange(Cpu cpu, FlushTlbInfo f) {
        if (f.end == FlushTlbInfo.TLB_FLUSH_ALL
                || Long.compareUnsigned((f.end - f.start) >>> 12, TLB_SINGLE_PAGE_FLUSH_CEILING) > 0) {
            cpu.mmu().flushAll();                     // __flush_tlb_all(): global entries too
            cpu.fullFlushes++;
            return;
        }
        for (long addr = f.start; Long.compareUnsigned(addr, f.end) < 0; addr += 4096) {
            cpu.mmu().invlpg(addr);
            cpu.pageFlushes++;
        }
    }
}
