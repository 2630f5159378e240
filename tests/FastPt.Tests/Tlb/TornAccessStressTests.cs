using System;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Threading;
using Xunit;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.Tlb;

/// <summary>A byte access across a page boundary is all or nothing even while another thread unmaps and remaps the
/// second page: a write that faults changes no byte of the first page, a read that faults leaves the destination
/// alone. The first page stays mapped throughout, so its bytes can be checked through the physical address.</summary>
public class TornAccessStressTests
{
    private static readonly VirtAddr Base = V(1UL << 39);

    [Fact]
    public void Accesses_across_a_page_being_unmapped_are_never_torn()
    {
        int seconds = int.TryParse(Environment.GetEnvironmentVariable("FASTPT_STRESS_SECONDS"), out int s) ? s : 0;
        using Machine machine = Create(256 * MiB, checkedMode: true);
        AddressSpace space = machine.CreateAddressSpace();
        PhysAddr frames = machine.AllocatePhysical(4 * Page);
        VirtAddr first = Base, second = Base + Page, at = Base + Page - 8;
        space.Map(first, frames, Page, Protection.ReadWrite);
        space.Map(second, frames + Page, Page, Protection.ReadWrite);
        using var stop = new CancellationTokenSource();
        Exception? failure = null;
        long writes = 0, faultingWrites = 0, faultingReads = 0, remaps = 0;

        void Writer()
        {
            using MmuContext cpu = space.CreateContext();
            var buffer = new byte[16];
            var read = new byte[16];
            var tail = new byte[8];
            ulong last = 0; // the stamp of the last write that succeeded
            try
            {
                for (ulong stamp = 1; !stop.IsCancellationRequested; stamp++)
                {
                    BinaryPrimitives.WriteUInt64LittleEndian(buffer, stamp);
                    BinaryPrimitives.WriteUInt64LittleEndian(buffer.AsSpan(8), stamp);
                    bool ok = cpu.TryWrite(at, buffer, out PageFault fault);
                    machine.ReadPhysical(frames + (Page - 8), tail);
                    ulong seen = BinaryPrimitives.ReadUInt64LittleEndian(tail);
                    if (ok)
                    {
                        if (seen != stamp) throw new InvalidOperationException($"write {stamp} succeeded, the first page holds {seen}");
                        last = stamp;
                        Interlocked.Increment(ref writes);
                    }
                    else
                    {
                        if (fault.Address != second) throw new InvalidOperationException($"write {stamp} faulted at {fault.Address}");
                        if (seen != last) throw new InvalidOperationException($"write {stamp} faulted at {fault.Address} but wrote the first page (it holds {seen}, the last good write was {last})");
                        Interlocked.Increment(ref faultingWrites);
                    }
                    read.AsSpan().Fill(0xEE);
                    if (!cpu.TryRead(at, read, out fault))
                    {
                        foreach (byte b in read)
                            if (b != 0xEE) throw new InvalidOperationException($"a read faulting at {fault.Address} filled part of the destination");
                        Interlocked.Increment(ref faultingReads);
                    }
                }
            }
            catch (Exception e)
            {
                failure ??= e;
                stop.Cancel();
            }
        }

        void Remapper()
        {
            try
            {
                for (ulong k = 0; !stop.IsCancellationRequested; k++)
                {
                    space.Unmap(second, Page);
                    Thread.SpinWait(20);
                    space.Map(second, frames + (1 + k % 3) * Page, Page, Protection.ReadWrite);
                    Interlocked.Increment(ref remaps);
                }
            }
            catch (Exception e)
            {
                failure ??= e;
                stop.Cancel();
            }
        }

        var threads = new[] { new Thread(Writer), new Thread(Remapper) };
        foreach (Thread t in threads) t.Start();
        var watch = Stopwatch.StartNew();
        bool Enough() => Interlocked.Read(ref writes) > 5000 && Interlocked.Read(ref faultingWrites) > 2000
            && Interlocked.Read(ref faultingReads) > 500 && Interlocked.Read(ref remaps) > 2000;
        while (!stop.IsCancellationRequested && (!Enough() || watch.Elapsed < TimeSpan.FromSeconds(seconds)) && watch.Elapsed < TimeSpan.FromSeconds(seconds + 120))
            Thread.Sleep(1);
        stop.Cancel();
        foreach (Thread t in threads) t.Join();

        Assert.Null(failure);
        Assert.True(Enough(), $"only {writes} writes, {faultingWrites} faulting writes, {faultingReads} faulting reads and {remaps} remaps in {watch.Elapsed}");
        Assert.Equal(0, machine.GetStatistics().UseAfterFreeDetected);
    }
}
