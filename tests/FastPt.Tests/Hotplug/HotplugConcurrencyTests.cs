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
}
