using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Threading;
using FastPt.Geometry;
using FastPt.Hardware;
using FastPt.Internals;
using FastPt.Lib;
using FastPt.Mm;

namespace FastPt.Hotplug;

/// <summary>Building and marking the vmemmap of hot-added memory (<c>vmemmap_populate</c>, with x86's handling
/// of partly used 2 MiB blocks). Runs under the hotplug lock and init_mm's page-table lock.</summary>
internal sealed unsafe class Vmemmap
{
    /// <summary>PAGE_UNUSED: the byte that marks unused parts of vmemmap pages and blocks.</summary>
    public const byte PageUnused = 0xFD;

    private readonly MemoryManager _memory;

    /// <summary>Start of the part of the last new, partly used block that is not yet marked unused; the mark is
    /// applied lazily so that consecutive adds can continue the block instead (<c>unused_pmd_start</c>). 0 when
    /// there is none.</summary>
    private ulong _unusedPmdStart;

    public Vmemmap(MemoryManager memory) => _memory = memory;

    public long BytesMarkedUnused;
    public int PartialBlocksFreed;

    /// <summary>Counts what populating the vmemmap of <paramref name="request"/> needs, changing nothing (the
    /// check pass of <see cref="Populate"/>).</summary>
    public PopulatePlan Plan(in PopulateRequest request)
    {
        MmStruct initMm = _memory.InitMm;
        var ops = new PlanOps { Memory = _memory, Request = request, Plan = new PopulatePlan() };
        PageWalk.Walk(_memory.Physical, initMm.RootPa, initMm.RootLevel, request.StartVa(_memory), request.EndVa(_memory), ref ops);
        return ops.Plan;
    }

    /// <summary>Populates the vmemmap of <paramref name="request"/> (the commit pass; cannot fail): tables and
    /// 4 KiB memmap pages come from <paramref name="frames"/>, which holds exactly what <see cref="Plan"/>
    /// counted, and each empty 2 MiB slot that wants a block gets the block in <paramref name="slotBlocks"/>
    /// (frame + 1), or base pages from <paramref name="frames"/> where it holds 0. An altmap hands out its own
    /// blocks.</summary>
    public void Populate(in PopulateRequest request, ReadOnlySpan<ulong> frames, ReadOnlySpan<ulong> slotBlocks, ref long tables, ref long memmapFrames)
    {
        MmStruct initMm = _memory.InitMm;
        fixed (ulong* framePool = frames)
        fixed (ulong* blockPool = slotBlocks)
        {
            var ops = new PopulateOps
            {
                Vmemmap = this, Memory = _memory, Request = request,
                Frames = framePool, FrameCount = frames.Length, SlotBlocks = blockPool, SlotCount = slotBlocks.Length,
            };
            PageWalk.Walk(_memory.Physical, initMm.RootPa, initMm.RootLevel, request.StartVa(_memory), request.EndVa(_memory), ref ops);
            if (ops.FramesUsed != frames.Length || ops.SlotsUsed != slotBlocks.Length)
                throw new InvalidOperationException($"vmemmap populate used {ops.FramesUsed} of {frames.Length} frames and {ops.SlotsUsed} of {slotBlocks.Length} block slots counted");
            tables += ops.Tables;
            memmapFrames += ops.MemmapFrames;
        }
        _memory.SyncKernelTopLevel();
    }

    // ---------------------------------------------------------------- partly used 2 MiB blocks (arch/x86/mm/init_64.c)

    /// <summary>Marks the pending unused tail of the last new block (<c>vmemmap_flush_unused_pmd</c>).</summary>
    public void FlushUnusedPmd()
    {
        if (_unusedPmdStart == 0) return;
        ulong end = Paging.AlignUp(_unusedPmdStart, Paging.PmdSize);
        Mark(_unusedPmdStart, end, PageUnused);
        _unusedPmdStart = 0;
    }

    /// <summary>A new block of which only [start, end) is used (<c>vmemmap_use_new_sub_pmd</c>): mark the unused
    /// head from the aligned-down block start (the kernel once marked from <c>start</c>, which left the head
    /// looking used) and remember the unused tail instead of marking it.</summary>
    private void UseNewSubPmd(ulong start, ulong end)
    {
        FlushUnusedPmd();
        ulong blockStart = Paging.AlignDown(start, Paging.PmdSize);
        if (start != blockStart) Mark(blockStart, start, PageUnused);
        if (!Paging.IsAligned(end, Paging.PmdShift)) _unusedPmdStart = end;
    }

    /// <summary>An existing block gets [start, end) back in use (<c>vmemmap_use_sub_pmd</c>). When the range
    /// directly follows the pending unused tail, the tail just shrinks (the usual case when consecutive sections
    /// or subsections are added). Otherwise the range is cleared: the kernel clears one struct page because onlining
    /// initialises the rest, but here an all-zero descriptor is the initialised state, so the whole range is
    /// zeroed (it may hold 0xFD from an earlier removal).</summary>
    private void UseSubPmd(ulong start, ulong end)
    {
        if (_unusedPmdStart == start)
        {
            _unusedPmdStart = Paging.IsAligned(end, Paging.PmdShift) ? 0 : end;
            return;
        }
        FlushUnusedPmd();
        Mark(start, end, 0);
    }

    /// <summary>The range [start, end) of a leaf mapping no longer describes memory (<c>vmemmap_pmd_is_unused</c>
    /// and its 4 KiB twin): mark it, then scan the whole leaf with <c>memchr_inv</c>. True when the entire leaf
    /// is unused and can be freed.</summary>
    public bool UnusePartial(ulong start, ulong end, ulong leafSize, ulong leafPa)
    {
        FlushUnusedPmd();
        Mark(start, end, PageUnused);
        byte* leaf = _memory.Physical.ReadPointer(leafPa);
        return MemchrInv.IndexOfNot(leaf, (nuint)leafSize, PageUnused) < 0;
    }

    /// <summary>Fills vmemmap [start, end) (inside one leaf) with <paramref name="value"/> through the kernel
    /// mapping, page by page: a write pointer covers its own 4 KiB frame only (the frame is marked as holding data).</summary>
    private void Mark(ulong start, ulong end, byte value)
    {
        if (end <= start) return;
        for (ulong at = start; at < end;)
        {
            ulong next = Math.Min(end, (at & Paging.PageMask) + Paging.PageSize);
            NativeMemory.Fill(_memory.Memmap.KernelPointer(at, write: true), (nuint)(next - at), value);
            at = next;
        }
        if (value == PageUnused) BytesMarkedUnused += (long)(end - start);
    }

    // ---------------------------------------------------------------- the populate walks

    /// <summary>The check pass: what the commit will take, counted on the tables as they are, with the tables
    /// it will add counted as if they were there and empty.</summary>
    private struct PlanOps : IPageWalkOps
    {
        public MemoryManager Memory;
        public PopulateRequest Request;
        public PopulatePlan Plan;

        public static bool Mutates => false;

        public WalkAction Entry(int level, ulong* entry, ulong address, ulong next)
        {
            ulong value = *entry;
            if (level == Paging.PmdLevel)
            {
                SectionPopulation kind = Request.PopulationAt(Memory, address);
                if (kind == SectionPopulation.Skip || PageTableEntry.IsLeaf(value, level)) return WalkAction.Continue;
                if (value == 0)
                {
                    EmptyPmd(address, next, kind);
                    return WalkAction.Continue;
                }
                return WalkAction.Descend;
            }
            if (value == 0)
            {
                EmptyAbovePmd(level, address, next);
                return WalkAction.Continue;
            }
            if (PageTableEntry.IsLeaf(value, level))
                throw new InvalidOperationException($"vmemmap populate met a level-{level} leaf at 0x{address:x}");
            return WalkAction.Descend;
        }

        public WalkAction PteRange(ulong* ptes, ulong address, ulong end)
        {
            int count = (int)((end - address) >> Paging.PageShift);
            for (int i = 0; i < count; i++) if (ptes[i] == 0) Plan.Frames++;
            return WalkAction.Continue;
        }

        public WalkAction AfterTable(int level, ulong* entry, ulong address, ulong next) => WalkAction.Continue;

        /// <summary>An empty entry above the PMD level: a new table, then everything under it.</summary>
        private void EmptyAbovePmd(int level, ulong address, ulong next)
        {
            Plan.Frames++;
            int child = level - 1;
            for (ulong a = address; a != next;)
            {
                ulong n = Paging.AddrEnd(child, a, next);
                if (child == Paging.PmdLevel)
                {
                    SectionPopulation kind = Request.PopulationAt(Memory, a);
                    if (kind != SectionPopulation.Skip) EmptyPmd(a, n, kind);
                }
                else
                {
                    EmptyAbovePmd(child, a, n);
                }
                a = n;
            }
        }

        /// <summary>An empty PMD entry: a block (from the altmap, or a slot the buddy allocator may fill, whose
        /// fallback is a PTE table and base pages), or a PTE table and base pages.</summary>
        private void EmptyPmd(ulong address, ulong next, SectionPopulation kind)
        {
            int basePages = 1 + (int)((next - address) >> Paging.PageShift);
            if (kind == SectionPopulation.BasePages) Plan.Frames += basePages;
            else if (Request.Altmap is not null) Plan.AltmapBlocks++;
            else Plan.BlockFallbackFrames.Add(basePages);
        }
    }

    /// <summary>The commit pass: installs tables, blocks and pages from the preallocated pools.</summary>
    private struct PopulateOps : IPageWalkOps
    {
        public Vmemmap Vmemmap;
        public MemoryManager Memory;
        public PopulateRequest Request;
        public ulong* Frames;
        public int FrameCount;
        public int FramesUsed;
        public ulong* SlotBlocks;
        public int SlotCount;
        public int SlotsUsed;
        public long Tables;
        public long MemmapFrames;

        public static bool Mutates => true;

        public WalkAction Entry(int level, ulong* entry, ulong address, ulong next)
        {
            ulong value = *entry;
            if (level == Paging.PmdLevel)
            {
                SectionPopulation kind = Request.PopulationAt(Memory, address);
                if (kind == SectionPopulation.Skip) return WalkAction.Continue; // an early section's memmap is whole
                if (PageTableEntry.IsLeaf(value, level))
                {
                    // Already backed by a block (x86 vmemmap_check_pmd): reuse it.
                    Vmemmap.UseSubPmd(address, next);
                    return WalkAction.Continue;
                }
                if (value == 0 && kind == SectionPopulation.Blocks && TryTakeBlock(out ulong blockPfn))
                {
                    Volatile.Write(ref *entry, (blockPfn << Paging.PageShift) | PageTableEntry.KernelData | PageTableEntry.Huge);
                    Memory.InitMm.Leaves[2]++;
                    MemmapFrames += 512;
                    if (next - address != Paging.PmdSize) Vmemmap.UseNewSubPmd(address, next);
                    return WalkAction.Continue;
                }
            }
            if (value != 0)
            {
                if (PageTableEntry.IsLeaf(value, level))
                    ThrowHelper.ThrowUnexpectedLeaf("vmemmap populate", level, address);
                return WalkAction.Descend;
            }
            // A missing table (vmemmap_p?d_populate).
            ulong tablePfn = TakeFrame();
            Memory.PageTables.ConstructKernel(tablePfn, level - 1, Memory.InitMm.Id);
            Memory.InitMm.Tables[level - 1]++;
            Tables++;
            Volatile.Write(ref *entry, (tablePfn << Paging.PageShift) | PageTableEntry.KernelTable);
            return WalkAction.Descend;
        }

        public WalkAction PteRange(ulong* ptes, ulong address, ulong end)
        {
            for (ulong a = address; a < end; a += Paging.PageSize, ptes++)
            {
                if (*ptes != 0) continue; // shared with memmap already present (non-64-byte descriptors)
                Volatile.Write(ref *ptes, (TakeFrame() << Paging.PageShift) | PageTableEntry.KernelData);
                Memory.InitMm.Leaves[1]++;
                MemmapFrames++;
            }
            return WalkAction.Continue;
        }

        public WalkAction AfterTable(int level, ulong* entry, ulong address, ulong next) => WalkAction.Continue;

        private ulong TakeFrame()
        {
            if (FramesUsed == FrameCount) throw new InvalidOperationException("vmemmap populate ran out of counted frames");
            return Frames[FramesUsed++];
        }

        /// <summary>The block of this slot: from the altmap, or the one preallocated for it (false: base pages).</summary>
        private bool TryTakeBlock(out ulong pfn)
        {
            if (Request.Altmap is { } altmap)
            {
                if (!altmap.TryAllocate(512, out pfn)) throw new InvalidOperationException("the altmap ran out of counted blocks");
                // Altmap frames were never handed to the buddy allocator: their contents are whatever the range
                // held, so clear the block (the vmemmap must start out as valid, all-zero descriptors).
                Memory.Physical.Fill(pfn << Paging.PageShift, Paging.PmdSize, 0);
                return true;
            }
            if (SlotsUsed == SlotCount) throw new InvalidOperationException("vmemmap populate met more block slots than counted");
            ulong slot = SlotBlocks[SlotsUsed++];
            pfn = slot - 1;
            return slot != 0;
        }
    }
}

/// <summary>How one section's memmap is populated by a hot-add.</summary>
internal enum SectionPopulation
{
    /// <summary>An early section's memmap covers the whole section already.</summary>
    Skip,

    /// <summary>4 KiB pages (x86 below a whole section's memmap).</summary>
    BasePages,

    /// <summary>2 MiB blocks, falling back to 4 KiB pages where no block can be had (except from an altmap).</summary>
    Blocks,
}

/// <summary>What a hot-add asks of the vmemmap: the memmap of [StartPfn, EndPfn), per section by the rules of
/// <see cref="PopulationAt"/>.</summary>
internal readonly struct PopulateRequest(ulong startPfn, ulong endPfn, Altmap? altmap, VmemmapPopulation population)
{
    public ulong StartPfn => startPfn;
    public ulong EndPfn => endPfn;
    public Altmap? Altmap => altmap;

    public ulong StartVa(MemoryManager memory) => memory.Layout.DescriptorAddress(startPfn);
    public ulong EndVa(MemoryManager memory) => memory.Layout.DescriptorAddress(endPfn);

    /// <summary>Frames of the request in <paramref name="section"/>.</summary>
    public ulong PagesIn(ulong section)
    {
        ulong first = section << SparseMemory.PfnSectionShift;
        return Math.Min(endPfn, first + SparseMemory.PagesPerSection) - Math.Max(startPfn, first);
    }

    /// <summary>How the section whose memmap holds vmemmap address <paramref name="va"/> is populated: nothing for
    /// part of an early section; x86 <c>vmemmap_populate</c>'s base pages below a whole section's memmap and 2 MiB
    /// blocks from there on; always blocks with <see cref="VmemmapPopulation.PmdBlocksAlways"/> or an altmap.</summary>
    public SectionPopulation PopulationAt(MemoryManager memory, ulong va)
    {
        ulong section = SparseMemory.SectionOf(memory.Layout.DescriptorPfn(va));
        ulong pages = PagesIn(section);
        if (pages < SparseMemory.PagesPerSection && memory.Sparse.IsEarly(section)) return SectionPopulation.Skip;
        bool blocks = population == VmemmapPopulation.PmdBlocksAlways || altmap is not null || pages == SparseMemory.PagesPerSection;
        return blocks ? SectionPopulation.Blocks : SectionPopulation.BasePages;
    }
}

/// <summary>What populating a hot-add's vmemmap needs, counted before anything changes.</summary>
internal sealed class PopulatePlan
{
    /// <summary>Single frames: tables and 4 KiB memmap pages.</summary>
    public long Frames;

    /// <summary>Empty 2 MiB slots that want a block from the buddy allocator, in address order; each holds what
    /// its fallback costs in single frames (a PTE table and its base pages) if no block can be had.</summary>
    public readonly List<int> BlockFallbackFrames = new();

    /// <summary>Blocks the altmap will hand out.</summary>
    public long AltmapBlocks;
}
