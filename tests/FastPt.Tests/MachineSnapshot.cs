using System;
using System.Collections.Generic;
using System.Linq;
using Xunit;

namespace FastPt.Tests;

/// <summary>The whole state of a machine that a refused operation must leave alone: every counter that describes
/// state (not activity), the buddy allocator's free blocks per order, the kernel page tables (every run of the
/// kernel half, up to 2^64) and the bytes of every page descriptor (the memmap, read through the vmemmap's own
/// leaves), which also holds the free lists' links and checked mode's poison marks.</summary>
internal sealed unsafe class MachineSnapshot
{
    private MachineSnapshot(string counters, List<MappingRun> kernel, byte[] memmap)
    {
        Counters = counters;
        Kernel = kernel;
        Memmap = memmap;
    }

    public string Counters { get; }
    public List<MappingRun> Kernel { get; }
    public byte[] Memmap { get; }

    /// <summary>Takes a snapshot; <paramref name="recycle"/>'s memmap buffer is reused when it has the right size
    /// (sweeps take thousands).</summary>
    public static MachineSnapshot Take(Machine machine, MachineSnapshot? recycle = null)
    {
        List<MappingRun> kernel = KernelRuns(machine);
        long memmapBytes = 0;
        ForEachMemmapPage(machine, kernel, (_, page) => memmapBytes += page.Length);
        byte[] memmap = recycle is not null && recycle.Memmap.Length == memmapBytes ? recycle.Memmap : new byte[memmapBytes];
        int at = 0;
        ForEachMemmapPage(machine, kernel, (_, page) =>
        {
            page.CopyTo(memmap.AsSpan(at));
            at += page.Length;
        });
        return new MachineSnapshot(CountersOf(machine), kernel, memmap);
    }

    private static string CountersOf(Machine machine)
    {
        MemoryStatistics s = machine.GetStatistics();
        // Activity counters (grace periods, descriptor walks, lock contentions) count work, not state.
        return string.Join("\n",
            $"present {s.PresentPages} managed {s.ManagedPages} free {s.FreePages} movable free {s.MovableFreePages} movable managed {s.MovableManagedPages}",
            $"buddyinfo {string.Join(" ", s.FreeBlocksPerOrder)}",
            $"page tables {s.PageTablePages} kernel {string.Join(" ", s.KernelPageTablesByLevel)} user {string.Join(" ", s.UserPageTablesByLevel)}",
            $"memmap pages {s.MemmapPages} boot {s.MemmapBootPages} frames {s.MemmapFrames}",
            $"direct map 4K {s.DirectMap4KiB} 2M {s.DirectMap2MiB} 1G {s.DirectMap1GiB}",
            $"sections present {s.PresentSections} online {s.OnlineSections} spaces {s.AddressSpaces} host bytes {s.HostBytes}",
            $"rcu pending {s.RcuPendingCallbacks} ptlocks {s.PtlocksAllocated}/{s.PtlocksFreed} use-after-free {s.UseAfterFreeDetected}");
    }

    /// <summary>Every run of the kernel half, up to 2^64, uncapped.</summary>
    private static List<MappingRun> KernelRuns(Machine machine)
    {
        ulong kernelHalf = machine.PagingMode == PagingMode.FiveLevel ? 0xFF00_0000_0000_0000UL : 0xFFFF_8000_0000_0000UL;
        return machine.DumpKernel(new VirtAddr(kernelHalf), 0UL - kernelHalf, int.MaxValue).ToList();
    }

    private delegate void PageVisitor(ulong va, ReadOnlySpan<byte> page);

    /// <summary>The memmap as the vmemmap's leaves hold it, page by page (4 KiB or 2 MiB).</summary>
    private static void ForEachMemmapPage(Machine machine, List<MappingRun> kernel, PageVisitor visit)
    {
        foreach (MappingRun run in kernel)
        {
            if (run.Start.Value < machine.VmemmapBase.Value) continue;
            ulong pageBytes = run.PageSize.Bytes();
            for (long i = 0; i < run.Pages; i++)
            {
                byte* p = machine.Memory.Physical.ReadPointer(run.Physical.Value + (ulong)i * pageBytes);
                visit(run.Start.Value + (ulong)i * pageBytes, new ReadOnlySpan<byte>(p, (int)pageBytes));
            }
        }
    }

    /// <summary>Asserts <paramref name="machine"/> is exactly as this snapshot, naming the first difference.</summary>
    public void AssertUnchanged(Machine machine, string context)
    {
        string counters = CountersOf(machine);
        Assert.True(Counters == counters, $"{context}: counters changed\nbefore:\n{Counters}\nafter:\n{counters}");
        List<MappingRun> kernel = KernelRuns(machine);
        for (int i = 0; i < Math.Max(Kernel.Count, kernel.Count); i++)
        {
            MappingRun? a = i < Kernel.Count ? Kernel[i] : null, b = i < kernel.Count ? kernel[i] : null;
            Assert.True(a == b, $"{context}: kernel page tables changed at run {i}: before {a}, after {b}");
        }
        // Same runs, so the memmap has the same layout: compare it in place.
        int at = 0;
        string? difference = null;
        ForEachMemmapPage(machine, kernel, (va, page) =>
        {
            int same = page.CommonPrefixLength(Memmap.AsSpan(at, page.Length));
            if (same != page.Length && difference is null)
                difference = $"{context}: the memmap changed at vmemmap 0x{va + (ulong)same:x} (descriptor of pfn 0x{machine.Memory.Layout.DescriptorPfn(va + (ulong)same):x})";
            at += page.Length;
        });
        Assert.True(difference is null, difference);
    }
}
