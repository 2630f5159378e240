using System;
using System.Diagnostics;

namespace FastPt.Cli.PageSets;

/// <summary>What a replay did: pages and Map calls, the time it took, and the page tables it left.</summary>
/// <param name="Pages">Distinct pages mapped.</param>
/// <param name="MapCalls">Map calls made (one per run of consecutive pages, more where a run is split).</param>
/// <param name="Elapsed">Time spent mapping.</param>
/// <param name="Tables">Page-table pages of the address space afterwards.</param>
public sealed record ReplayResult(long Pages, long MapCalls, TimeSpan Elapsed, PageTableCounts Tables);

/// <summary>Maps a page set into an address space with forced 4 KiB pages, one Map call per run of consecutive
/// pages. Only the page tables matter, so no data frames are allocated: page <c>i</c> maps onto physical address
/// <c>i × 4 KiB</c> modulo the machine's physical address width.</summary>
public static class PageSetReplayer
{
    private const ulong PageBytes = 4096;
    private const ulong ProgressEveryPages = 1 << 16;

    /// <summary>The default base address of page 0 in a page file: 512 GiB, the start of the second PGD entry.</summary>
    public const ulong DefaultBase = 0x0000_0080_0000_0000;

    /// <summary>Exclusive upper bound of page indices that fit between <paramref name="baseAddress"/> and the end
    /// of the half of <paramref name="space"/> that holds it: the user top, or 2^64 for a guest's higher half.</summary>
    public static ulong PageLimit(AddressSpace space, ulong baseAddress)
    {
        ArgumentNullException.ThrowIfNull(space);
        if (!space.Contains(new VirtAddr(baseAddress))) return 0;
        // Inclusive last address of the half: 2^64 itself does not fit in 64 bits.
        ulong last = baseAddress >= space.HigherHalfStart.Value ? ulong.MaxValue : space.UserTop.Value - 1;
        return (last - baseAddress) / PageBytes + 1;
    }

    /// <summary>The physical address a replay maps page <paramref name="page"/> onto.</summary>
    public static ulong PhysicalFor(Machine machine, ulong page)
    {
        ArgumentNullException.ThrowIfNull(machine);
        return page * PageBytes % machine.MaxPhysicalAddress.Value;
    }

    /// <summary>Maps every page of <paramref name="pages"/> at <paramref name="baseAddress"/> + index × 4 KiB into
    /// <paramref name="space"/>, which must not map any of them yet.</summary>
    /// <param name="space">The address space.</param>
    /// <param name="pages">The pages.</param>
    /// <param name="baseAddress">Virtual address of page 0; 4 KiB aligned.</param>
    /// <param name="progress">Called now and then with (pages mapped, pages in the set).</param>
    public static ReplayResult Replay(AddressSpace space, PageSet pages, ulong baseAddress, Action<long, long>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(space);
        ArgumentNullException.ThrowIfNull(pages);
        if ((baseAddress & (PageBytes - 1)) != 0)
            throw new ArgumentException($"The base address 0x{baseAddress:x} is not 4 KiB aligned.", nameof(baseAddress));
        if (pages.Count > 0 && pages.Last >= PageLimit(space, baseAddress))
            throw new ArgumentOutOfRangeException(nameof(pages), $"Page 0x{pages.Last:x} lies above the half of the address space that holds the base.");

        ulong physicalTop = space.Machine.MaxPhysicalAddress.Value;
        long calls = 0;
        ulong done = 0;
        ulong nextProgress = ProgressEveryPages;
        long start = Stopwatch.GetTimestamp();
        foreach (PageRun run in pages.Runs())
        {
            ulong page = run.First;
            ulong remaining = run.Count;
            while (remaining > 0)
            {
                // A run is cut where its physical addresses would wrap past the top of physical memory.
                ulong physical = page * PageBytes % physicalTop;
                ulong count = Math.Min(remaining, (physicalTop - physical) / PageBytes);
                space.Map(new VirtAddr(baseAddress + page * PageBytes), new PhysAddr(physical), count * PageBytes,
                    Protection.ReadWrite, PageSize.Size4K);
                calls++;
                page += count;
                remaining -= count;
            }
            done += run.Count;
            if (progress is not null && done >= nextProgress)
            {
                progress((long)done, pages.Count);
                nextProgress = done + ProgressEveryPages;
            }
        }
        TimeSpan elapsed = Stopwatch.GetElapsedTime(start);
        progress?.Invoke(pages.Count, pages.Count);
        return new ReplayResult(pages.Count, calls, elapsed, space.PageTables);
    }
}
