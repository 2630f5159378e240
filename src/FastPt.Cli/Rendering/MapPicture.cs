using System;
using System.Collections.Generic;

namespace FastPt.Cli.Rendering;

/// <summary>What a cell of a map picture holds, by the sizes of the leaves that map it.</summary>
internal enum CellLeaf
{
    /// <summary>Nothing mapped.</summary>
    None,

    /// <summary>Only 4 KiB leaves (a PTE table; its fill is the cell's <see cref="MapCell.MappedBytes"/>).</summary>
    Size4K,

    /// <summary>Only 2 MiB leaves.</summary>
    Size2M,

    /// <summary>Part of a 1 GiB leaf.</summary>
    Size1G,

    /// <summary>4 KiB and 2 MiB leaves both (possible only in a 1 GiB cell).</summary>
    Mixed,
}

/// <summary>One cell: [<see cref="Start"/>, +cell size) of a band.</summary>
/// <param name="Start">First virtual address of the cell.</param>
/// <param name="Leaf">The leaf sizes that map it.</param>
/// <param name="Leaves4K">4 KiB leaves inside the cell.</param>
/// <param name="Leaves2M">2 MiB leaves inside the cell.</param>
/// <param name="MappedBytes">Bytes of the cell that are mapped (a leaf larger than the cell counts as the cell).</param>
/// <param name="UnusedBytes">Bytes of memmap in the cell marked 0xFD (PAGE_UNUSED) as whole 64-byte descriptors;
/// 0 outside the vmemmap.</param>
/// <param name="ReadOnlyMemmapBytes">Bytes of memmap in the cell mapped read-only: the tail vmemmap pages HVO
/// remapped onto a shared page (the head's page in Linux 6.x, the shared tail page in the 2026 design); the vmemmap
/// is otherwise mapped read-write. 0 outside the vmemmap.</param>
internal readonly record struct MapCell(ulong Start, CellLeaf Leaf, long Leaves4K, long Leaves2M, ulong MappedBytes, ulong UnusedBytes,
    ulong ReadOnlyMemmapBytes = 0);

/// <summary>A row of a band: cells, or a gap.</summary>
internal abstract record MapRow;

/// <summary>Up to <see cref="MapPicture.Columns"/> consecutive cells.</summary>
internal sealed record CellRow(List<MapCell> Cells) : MapRow;

/// <summary>A run of whole rows with nothing mapped, drawn as one line instead of empty cells.</summary>
internal sealed record MapGap(ulong Start, ulong End) : MapRow;

/// <summary>One range of the picture (the direct map, the vmemmap, a user range): its cells, row by row, with
/// empty rows folded into gaps. Cells and gaps together tile [<see cref="Start"/>, <see cref="End"/>) in order.</summary>
internal sealed class MapBand
{
    public MapBand(string name, ulong start, ulong end, ulong cellBytes, bool isVmemmap)
    {
        Name = name;
        Start = start;
        End = end;
        CellBytes = cellBytes;
        IsVmemmap = isVmemmap;
    }

    public string Name { get; }

    public ulong Start { get; }

    public ulong End { get; }

    /// <summary>2 MiB or 1 GiB.</summary>
    public ulong CellBytes { get; }

    /// <summary>True for the vmemmap, whose cells carry 0xFD marks.</summary>
    public bool IsVmemmap { get; }

    /// <summary>Rows of cells or gaps, in address order.</summary>
    public List<MapRow> Rows { get; } = [];
}

/// <summary>A picture of page tables: one or more bands of cells, with what the title says about the machine.
/// Capturing reads the tables through the engine's own uncapped count walk (one call per cell) and, in the
/// vmemmap, the memmap bytes through <see cref="Machine.ReadPhysical"/>.</summary>
internal sealed class MapPicture
{
    /// <summary>Cells per row.</summary>
    public const int Columns = 128;

    /// <summary>Most cells a picture draws (before empty rows are folded): 64 full rows.</summary>
    public const long MaximumCells = 8192;

    public const ulong Cell2M = 2UL << 20;
    public const ulong Cell1G = 1UL << 30;

    private const int DescriptorBytes = 64;
    private const byte PageUnused = 0xFD;

    public MapPicture(string title, string subject)
    {
        Title = title;
        Subject = subject;
    }

    /// <summary>What is drawn and on what machine, for the title.</summary>
    public string Title { get; }

    /// <summary>"kernel" or "user".</summary>
    public string Subject { get; }

    public List<MapBand> Bands { get; } = [];

    /// <summary>The cell size for [start, end): 2 MiB while the cells fit in <see cref="MaximumCells"/>, else
    /// 1 GiB; null when even 1 GiB cells are too many.</summary>
    public static ulong? CellSizeFor(ulong start, ulong end)
    {
        if (CellCount(start, end, Cell2M) <= MaximumCells) return Cell2M;
        if (CellCount(start, end, Cell1G) <= MaximumCells) return Cell1G;
        return null;
    }

    /// <summary>Cells of <paramref name="cell"/> bytes that [start, end) touches, aligned to the cell size.</summary>
    public static long CellCount(ulong start, ulong end, ulong cell) =>
        (long)((AlignUp(end, cell) - (start & ~(cell - 1))) / cell);

    /// <summary>Counts what [start, +length) maps, as <see cref="AddressSpace.CountMappings"/> or
    /// <see cref="Machine.CountKernelMappings"/> do.</summary>
    public delegate MappingTotals Counter(ulong start, ulong length);

    /// <summary>Adds a band over [start, end) (widened to whole cells) with cells of <paramref name="cellBytes"/>.
    /// With <paramref name="vmemmapOf"/> (the vmemmap), each mapped page of a cell is read for 0xFD descriptors.</summary>
    public MapBand AddBand(string name, ulong start, ulong end, ulong cellBytes, Counter count, Machine? vmemmapOf)
    {
        ArgumentNullException.ThrowIfNull(count);
        ulong first = start & ~(cellBytes - 1);
        ulong last = AlignUp(end, cellBytes);
        var band = new MapBand(name, first, last, cellBytes, vmemmapOf is not null);
        byte[]? buffer = vmemmapOf is null ? null : new byte[64 * 1024];
        ulong rowBytes = cellBytes * Columns;
        for (ulong row = first; row < last; row += Math.Min(rowBytes, last - row))
        {
            ulong rowEnd = Math.Min(row + rowBytes, last);
            if (count(row, rowEnd - row).Total.Leaves == 0)
            {
                // Consecutive empty rows become one gap.
                if (band.Rows.Count > 0 && band.Rows[^1] is MapGap gap && gap.End == row) band.Rows[^1] = gap with { End = rowEnd };
                else band.Rows.Add(new MapGap(row, rowEnd));
                continue;
            }
            var cells = new List<MapCell>(Columns);
            for (ulong cell = row; cell < rowEnd; cell += cellBytes)
                cells.Add(Classify(cell, cellBytes, count(cell, cellBytes), vmemmapOf, buffer));
            band.Rows.Add(new CellRow(cells));
        }
        Bands.Add(band);
        return band;
    }

    private static MapCell Classify(ulong start, ulong cellBytes, MappingTotals totals, Machine? vmemmapOf, byte[]? buffer)
    {
        long small = totals.Size4K.Leaves, middle = totals.Size2M.Leaves, large = totals.Size1G.Leaves;
        CellLeaf leaf = large > 0 ? CellLeaf.Size1G
            : small > 0 && middle > 0 ? CellLeaf.Mixed
            : small > 0 ? CellLeaf.Size4K
            : middle > 0 ? CellLeaf.Size2M
            : CellLeaf.None;
        // A leaf of the cell's size or larger maps all of it (the count walk counts a leaf reaching outside whole).
        ulong mapped = large > 0 || (middle > 0 && cellBytes == Cell2M)
            ? cellBytes
            : totals.Size4K.Bytes + totals.Size2M.Bytes;
        ulong readOnly = 0;
        ulong unused = leaf == CellLeaf.None || vmemmapOf is null ? 0 : UnusedMemmapBytes(vmemmapOf, start, cellBytes, buffer!, out readOnly);
        return new MapCell(start, leaf, small, middle, mapped, unused, readOnly);
    }

    /// <summary>Bytes of the kernel memmap in [start, +length) that are whole 64-byte descriptors filled with 0xFD,
    /// read leaf by leaf through the kernel mapping; <paramref name="readOnly"/>: bytes of it mapped read-only (HVO).</summary>
    private static ulong UnusedMemmapBytes(Machine machine, ulong start, ulong length, byte[] buffer, out ulong readOnly)
    {
        ulong unused = 0;
        readOnly = 0;
        ulong end = start + length;
        for (ulong va = start; va < end;)
        {
            Mapping? leaf = machine.LookupKernel(new VirtAddr(va));
            if (leaf is not { } mapping)
            {
                va += 4096;
                continue;
            }
            ulong leafEnd = Math.Min(mapping.Page.Value + mapping.Size.Bytes(), end);
            if ((mapping.Protection & Protection.Write) == 0) readOnly += leafEnd - va;
            for (ulong at = va; at < leafEnd;)
            {
                int chunk = (int)Math.Min((ulong)buffer.Length, leafEnd - at);
                Span<byte> bytes = buffer.AsSpan(0, chunk);
                machine.ReadPhysical(mapping.PhysicalFor(new VirtAddr(at)), bytes);
                if (bytes.IndexOf(PageUnused) >= 0)
                {
                    for (int i = 0; i + DescriptorBytes <= chunk; i += DescriptorBytes)
                    {
                        if (bytes.Slice(i, DescriptorBytes).IndexOfAnyExcept(PageUnused) < 0) unused += DescriptorBytes;
                    }
                }
                at += (ulong)chunk;
            }
            va = leafEnd;
        }
        return unused;
    }

    private static ulong AlignUp(ulong value, ulong alignment) => (value + alignment - 1) & ~(alignment - 1);

    /// <summary>An address in hex, grouped by four digits: 0xffff_8880_0000_0000.</summary>
    public static string GroupedHex(ulong value)
    {
        string digits = value.ToString("x", System.Globalization.CultureInfo.InvariantCulture);
        var text = new System.Text.StringBuilder("0x");
        int lead = digits.Length % 4 == 0 ? 4 : digits.Length % 4;
        text.Append(digits, 0, lead);
        for (int i = lead; i < digits.Length; i += 4) text.Append('_').Append(digits, i, 4);
        return text.ToString();
    }
}
