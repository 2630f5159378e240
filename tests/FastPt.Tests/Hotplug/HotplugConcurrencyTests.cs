using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Xunit;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.Hotplug;

/// <summary>Hot-remove against allocations on another thread: the busy test and the take of the range must be one
/// step, or a frame handed out in between would lose its memory while still in use.</summary>
public class HotplugConcurrencyTests
{
    private const ulong Section = 128 * MiB;

    [Fact]
    public async Task Removal_racing_allocation_never_takes_a_frame_in_use()
    {
        using Machine machine = Create(1 * GiB, checkedMode: false);
        const ulong start = 8 * GiB;
        MemoryStatistics before = machine.GetStatistics();
        using var stop = new CancellationTokenSource();
        long inRange = 0, removals = 0, busy = 0;
        var allocator = Task.Run(() =>
        {
            var held = new List<PhysAddr>();
            var check = new byte[8];
            ulong round = 0;
            while (!stop.IsCancellationRequested)
            {
                // Hold a few frames briefly, so the range is sometimes free and sometimes not.
                byte[] pattern = BitConverter.GetBytes(++round);
                while (held.Count < 16 && machine.TryAllocatePhysical(4096, out PhysAddr pa))
                {
                    if (pa.Value >= start) Interlocked.Increment(ref inRange);
                    machine.WritePhysical(pa, pattern); // throws if its memory was removed meanwhile
                    held.Add(pa);
                }
                foreach (PhysAddr pa in held)
                {
                    machine.ReadPhysical(pa, check);
                    Assert.Equal(pattern, check);
                    machine.FreePhysical(pa, 4096);
                }
                held.Clear();
            }
        }, TestContext.Current.CancellationToken);
        try
        {
            // Until the race was really run both ways: frames of the range handed out, removals refused as busy
            // and removals done. The count bounds only a failure.
            for (int cycle = 0; cycle < 100_000 && !allocator.IsCompleted; cycle++)
            {
                if (Interlocked.Read(ref inRange) >= 200 && busy >= 20 && removals >= 20) break;
                machine.AddMemory(P(start), Section);
                while (!allocator.IsCompleted)
                {
                    HotplugResult result = machine.TryRemoveMemory(P(start), Section);
                    if (result.IsSuccess) break;
                    Assert.Equal(HotplugError.Busy, result.Error);
                    busy++;
                    Thread.Yield();
                }
                removals++;
            }
        }
        finally
        {
            await stop.CancelAsync();
            await allocator;
        }
        Assert.True(Interlocked.Read(ref inRange) >= 200 && busy >= 20 && removals >= 20,
            $"the race was not exercised: {inRange} frames handed out in the range, {busy} busy refusals, {removals} removals");
        // Every frame came back and the added memory left entirely.
        MemoryStatistics after = machine.GetStatistics();
        Assert.Equal(before.FreePages, after.FreePages);
        Assert.Equal(before.ManagedPages, after.ManagedPages);
        Assert.Equal(before.PresentPages, after.PresentPages);
        Assert.Equal(before.MemmapFrames, after.MemmapFrames);
        Assert.Equal(0, after.MovableManagedPages);
    }

    /// <summary>Kernel translations (direct map and vmemmap of a hot-added section) race its removal and re-adding
    /// on more threads than there are cores, in checked mode. Their walks are protected only by the context's busy
    /// flag in init_mm's flush domain: a walk through a table the removal freed would be reported as a
    /// use-after-free. A translation that starts after <c>RemoveMemory</c> returned must fault. (That a
    /// translation running at the return has been waited for is shown deterministically by the next test: from
    /// outside, a thread preempted just after its translation returned looks the same as one inside it.)</summary>
    [Fact]
    public void Kernel_translations_racing_hot_remove_never_outlive_it()
    {
        const int Translators = 4;
        const ulong start = 8 * GiB;
        using Machine machine = Create(256 * MiB, checkedMode: true);
        AddressSpace space = machine.CreateAddressSpace();
        long phase = 0; // odd while the section is removed (from RemoveMemory's return to the next AddMemory)
        using var stop = new CancellationTokenSource();
        Exception? failure = null;
        long successes = 0, faultsAfterReturn = 0;

        void Translator(int id)
        {
            var random = new Random(id);
            using MmuContext cpu = space.CreateContext();
            try
            {
                while (!stop.IsCancellationRequested)
                {
                    ulong offset = (ulong)random.Next((int)(Section / Page)) * Page;
                    VirtAddr va = random.Next(2) == 0
                        ? machine.DirectMapBase + (start + offset)
                        : machine.VmemmapBase + ((start + offset) >> 12) * 64;
                    long before = Volatile.Read(ref phase);
                    Translation t = cpu.TranslateKernel(va);
                    if ((before & 1) != 0 && Volatile.Read(ref phase) == before)
                    {
                        if (t.Succeeded) throw new InvalidOperationException($"translator {id}: {va} translated to {t.PhysAddr} after the removal returned");
                        Interlocked.Increment(ref faultsAfterReturn);
                    }
                    else if (t.Succeeded)
                    {
                        Interlocked.Increment(ref successes);
                    }
                }
            }
            catch (Exception e)
            {
                failure ??= e;
                stop.Cancel();
            }
        }

        var threads = new Thread[Translators];
        for (int i = 0; i < Translators; i++)
        {
            int id = i;
            threads[i] = new Thread(() => Translator(id));
        }
        int cycles = 0;
        bool Enough() => cycles >= 40 && Interlocked.Read(ref successes) >= 1000 && Interlocked.Read(ref faultsAfterReturn) >= 1000;
        try
        {
            machine.AddMemory(P(start), Section);
            foreach (Thread t in threads) t.Start();
            for (; cycles < 20_000 && failure is null && !Enough(); cycles++)
            {
                machine.RemoveMemory(P(start), Section);
                Volatile.Write(ref phase, phase + 1);
                Thread.Yield(); // let translations start while the section is gone
                Volatile.Write(ref phase, phase + 1);
                machine.AddMemory(P(start), Section);
            }
        }
        finally
        {
            stop.Cancel();
            foreach (Thread t in threads) if (t.ThreadState != ThreadState.Unstarted) t.Join();
        }
        Assert.Null(failure);
        Assert.True(Enough(), $"the race was not exercised: {successes} successes, {faultsAfterReturn} faults after a return, {cycles} cycles");
        Assert.Equal(0, machine.GetStatistics().UseAfterFreeDetected);
    }

    /// <summary>The removal waits for a context inside a kernel translation: the context's kernel slot is held
    /// busy and behind (what a translation that read the kernel's flush generation before the removal looks like);
    /// the removal must reach its wait for it and not return until the translation ends. Afterwards the context
    /// translates the removed range to a fault.</summary>
    [Fact]
    public async Task Hot_remove_waits_for_a_context_inside_a_kernel_translation()
    {
        const ulong start = 8 * GiB;
        using Machine machine = Create(256 * MiB, checkedMode: true);
        machine.AddMemory(P(start), Section);
        AddressSpace space = machine.CreateAddressSpace();
        using MmuContext cpu = space.CreateContext();
        VirtAddr va = machine.DirectMapBase + start;
        Assert.True(cpu.TranslateKernel(va).Succeeded); // a global entry for the range
        var kernelFlushes = machine.Memory.InitMm.Flush;
        long barriersBefore = kernelFlushes.Barriers;
        Volatile.Write(ref cpu.KernelSlot.Busy, 1);
        Task removal = Task.Run(() => machine.RemoveMemory(P(start), Section), TestContext.Current.CancellationToken);
        try
        {
            // The removal reaches the wait for this context (the event it waits on), and stays there.
            var wait = new SpinWait();
            while (kernelFlushes.Barriers == barriersBefore && !removal.IsCompleted) wait.SpinOnce();
            Assert.False(removal.IsCompleted, "RemoveMemory returned while a context was inside a kernel translation");
        }
        finally
        {
            Volatile.Write(ref cpu.KernelSlot.Busy, 0);
        }
        await removal;
        Assert.False(cpu.TranslateKernel(va).Succeeded);
    }

    /// <summary>A kernel flush a context has not applied yet survives a switch of address space: the switch keeps
    /// global entries, so it must keep the duty to drop them too.</summary>
    [Fact]
    public void A_switch_of_address_space_does_not_skip_a_kernel_flush()
    {
        const ulong start = 8 * GiB;
        using Machine machine = Create(256 * MiB, checkedMode: true);
        machine.AddMemory(P(start), Section);
        AddressSpace first = machine.CreateAddressSpace(), second = machine.CreateAddressSpace();
        using MmuContext cpu = first.CreateContext();
        VirtAddr direct = machine.DirectMapBase + start, memmap = machine.VmemmapBase + (start >> 12) * 64;
        Assert.True(cpu.TranslateKernel(direct).Succeeded);
        Assert.True(cpu.TranslateKernel(memmap).Succeeded);
        machine.RemoveMemory(P(start), Section);
        cpu.SwitchTo(second);
        Assert.False(cpu.TranslateKernel(direct).Succeeded, "a global entry of removed memory survived the switch");
        Assert.False(cpu.TranslateKernel(memmap).Succeeded);
    }
}
