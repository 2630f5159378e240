using System;
using BenchmarkDotNet.Attributes;
using FastPt.Hardware;
using FastPt.Mm;

namespace FastPt.Benchmarks.Fragments;

/// <summary>A lockless translation against one taken under the page-table lock: 4096 random addresses of 1 GiB
/// mapped with 4 KiB pages (so the TLB almost always misses), per translation. The baseline takes the address
/// space's page-table lock around the side-effect-free walk (<c>follow_page</c> under <c>mmap_lock</c>'s role);
/// <see cref="Lookup"/> is the same walk without the lock, <see cref="TranslateLockless"/> the RCU walk with
/// <c>pmd_same</c> and the rights of every level, <see cref="TranslateThroughTlb"/> the CPU context's TLB path.</summary>
public class LocklessTranslateBenchmarks : IDisposable
{
    private const int AddressCount = 4096;
    private const ulong RegionSize = 1UL << 30;
    private const ulong RegionStart = 0x40_0000_0000;
    private Machine _machine = null!;
    private AddressSpace _space = null!;
    private ulong[] _addresses = null!;

    /// <summary>Maps the region, draws the addresses and checks that every method translates them alike.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _machine = new Machine(new MachineOptions { MemorySize = 4UL << 30 });
        _space = _machine.CreateAddressSpace();
        PhysAddr frames = _machine.AllocatePhysical(RegionSize);
        _space.Map(new VirtAddr(RegionStart), frames, RegionSize, Protection.ReadWrite, PageSize.Size4K);
        var random = new Random(20261201);
        _addresses = new ulong[AddressCount];
        for (int i = 0; i < _addresses.Length; i++) _addresses[i] = RegionStart + (ulong)random.NextInt64((long)RegionSize);
        ulong expected = 0;
        foreach (ulong va in _addresses) expected += frames.Value + (va - RegionStart);
        ulong[] sums = [LockedLookup(), Lookup(), TranslateLockless(), TranslateThroughTlb()];
        foreach (ulong sum in sums)
        {
            if (sum != expected) throw new InvalidOperationException($"a method summed 0x{sum:x}, expected 0x{expected:x}");
        }
    }

    private static ulong PhysicalOf(ulong entry, int level, ulong va)
    {
        ulong mask = (1UL << (12 + 9 * (level - 1))) - 1;
        return PageTableEntry.LeafAddress(entry, level) | (va & mask);
    }

    /// <summary>The walk under the page-table lock.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = AddressCount)]
    public ulong LockedLookup()
    {
        MmStruct mm = _space.Mm;
        ulong sum = 0;
        foreach (ulong va in _addresses)
        {
            using (mm.LockMmap())
            {
                if (PageTableOps.Lookup(mm, va, out ulong entry, out int level)) sum += PhysicalOf(entry, level, va);
            }
        }
        return sum;
    }

    /// <summary>The same walk without the lock.</summary>
    [Benchmark(OperationsPerInvoke = AddressCount)]
    public ulong Lookup()
    {
        MmStruct mm = _space.Mm;
        ulong sum = 0;
        foreach (ulong va in _addresses)
        {
            if (PageTableOps.Lookup(mm, va, out ulong entry, out int level)) sum += PhysicalOf(entry, level, va);
        }
        return sum;
    }

    /// <summary><see cref="AddressSpace.TranslateLockless"/>.</summary>
    [Benchmark(OperationsPerInvoke = AddressCount)]
    public ulong TranslateLockless()
    {
        AddressSpace space = _space;
        ulong sum = 0;
        foreach (ulong va in _addresses)
        {
            Translation t = space.TranslateLockless(new VirtAddr(va));
            if (t.Succeeded) sum += t.PhysAddr.Value;
        }
        return sum;
    }

    /// <summary><see cref="AddressSpace.Translate(VirtAddr, AccessKind)"/>: TLB, paging-structure caches, walker.</summary>
    [Benchmark(OperationsPerInvoke = AddressCount)]
    public ulong TranslateThroughTlb()
    {
        AddressSpace space = _space;
        ulong sum = 0;
        foreach (ulong va in _addresses)
        {
            Translation t = space.Translate(new VirtAddr(va));
            if (t.Succeeded) sum += t.PhysAddr.Value;
        }
        return sum;
    }

    /// <summary>Frees the machine.</summary>
    [GlobalCleanup]
    public void Dispose()
    {
        _space?.Dispose();
        _machine?.Dispose();
        GC.SuppressFinalize(this);
    }
}
