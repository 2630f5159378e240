using System;
using System.Collections.Generic;
using Xunit;
using static FastPt.Tests.HugeTlb.HvoMachines;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.HugeTlb;

/// <summary>Random interleavings of pool resizes, folio allocation and free, switching the optimization, overcommit,
/// hot-add and hot-remove, against a model of the pool (its counts and a LIFO free list of "optimized" bits), with
/// the memmap and a frame-conservation balance checked after every step, and zero leaks at the end.</summary>
public sealed class HvoModelTests
{
    private static int Steps => int.TryParse(Environment.GetEnvironmentVariable("FASTPT_MODEL_STEPS"), out int n) ? n : 150;

    private sealed class SizeModel(PageSize size)
    {
        public readonly PageSize Size = size;
        public readonly List<bool> Free = new(); // optimized bit per free folio, most recently freed last
        public readonly List<(HugeTlbFolio Folio, bool Optimized)> InUse = new();
        public long Total, Surplus, Overcommit;

        public long Persistent => Total - Surplus;

        public bool Pop()
        {
            bool optimized = Free[^1];
            Free.RemoveAt(Free.Count - 1);
            return optimized;
        }

        public HugeTlbPoolCounts Counts => new(Size, Total, Free.Count, Surplus, Overcommit);

        public long Optimized
        {
            get
            {
                long n = 0;
                foreach (bool o in Free) n += o ? 1 : 0;
                foreach ((_, bool o) in InUse) n += o ? 1 : 0;
                return n;
            }
        }

        /// <summary>What Resize does (the order HugeTlbPoolCore.Resize documents), with memory to spare.</summary>
        public void Resize(long count, bool optimize)
        {
            while (Surplus > 0 && Persistent < count) Surplus--;
            long free = Math.Min(Surplus, Free.Count);
            for (long i = 0; i < free; i++) Pop();
            Total -= free;
            Surplus -= free;
            for (long i = Persistent; i < count; i++, Total++) Free.Add(optimize);
            long excess = Math.Min(Persistent - count, Free.Count);
            for (long i = 0; i < excess; i++, Total--) Pop();
            if (Persistent > count) Surplus += Math.Min(Persistent - count, Total - Surplus);
        }
    }

    [Theory]
    [InlineData(HvoDesign.Linux6x, 1)]
    [InlineData(HvoDesign.SharedTail, 2)]
    public void Random_operations_agree_with_the_model_and_leak_nothing(HvoDesign design, int seed)
    {
        using Machine machine = Boot(design, 4 * GiB, optimize: true);
        var random = new Random(seed);
        var models = new Dictionary<PageSize, SizeModel> { [PageSize.Size2M] = new(PageSize.Size2M), [PageSize.Size1G] = new(PageSize.Size1G) };
        bool optimize = true;
        var added = new List<ulong>();
        ulong nextSection = 8 * GiB;
        long hotplugFrames = 0, hotplugMemmap = 0;
        MemoryStatistics boot = machine.GetStatistics();
        long balance = Balance(boot, models);

        for (int step = 0; step < Steps; step++)
        {
            string what;
            switch (random.Next(8))
            {
                case 0:
                {
                    long count = random.Next(48);
                    var batching = random.Next(2) == 0 ? HvoBatching.Batched : HvoBatching.PerFolio;
                    HugeTlbResizeResult r = machine.HugeTlb.TrySetPoolSize(PageSize.Size2M, count, batching);
                    Assert.True(r.IsSuccess, r.Detail);
                    models[PageSize.Size2M].Resize(count, optimize);
                    what = $"resize 2M {count} {batching}";
                    break;
                }
                case 1:
                {
                    long count = random.Next(3);
                    Assert.True(machine.HugeTlb.TrySetPoolSize(PageSize.Size1G, count).IsSuccess);
                    models[PageSize.Size1G].Resize(count, optimize);
                    what = $"resize 1G {count}";
                    break;
                }
                case 2:
                case 3:
                {
                    SizeModel m = models[random.Next(4) == 0 ? PageSize.Size1G : PageSize.Size2M];
                    bool got = machine.HugeTlb.TryAllocateFolio(m.Size, out HugeTlbFolio folio, out HugeTlbError error);
                    if (m.Free.Count > 0)
                    {
                        Assert.True(got, error.ToString());
                        m.InUse.Add((folio, m.Pop()));
                    }
                    else if (m.Surplus < m.Overcommit)
                    {
                        Assert.True(got, error.ToString());
                        m.InUse.Add((folio, optimize));
                        m.Total++;
                        m.Surplus++;
                    }
                    else
                    {
                        Assert.False(got);
                        Assert.Equal(HugeTlbError.NoFreeFolio, error);
                    }
                    what = $"allocate {m.Size}";
                    break;
                }
                case 4:
                {
                    SizeModel m = models[random.Next(3) == 0 ? PageSize.Size1G : PageSize.Size2M];
                    if (m.InUse.Count == 0) goto case 2;
                    int i = random.Next(m.InUse.Count);
                    (HugeTlbFolio folio, bool optimized) = m.InUse[i];
                    m.InUse.RemoveAt(i);
                    machine.HugeTlb.FreeFolio(folio);
                    if (m.Surplus > 0)
                    {
                        m.Surplus--;
                        m.Total--;
                    }
                    else
                    {
                        m.Free.Add(optimized);
                    }
                    what = $"free {m.Size}";
                    break;
                }
                case 5:
                    optimize = !optimize;
                    machine.HugeTlb.OptimizeVmemmap = optimize;
                    models[PageSize.Size2M].Overcommit = random.Next(4);
                    machine.HugeTlb.SetOvercommit(PageSize.Size2M, models[PageSize.Size2M].Overcommit);
                    what = $"switch {optimize}";
                    break;
                case 6:
                {
                    HotplugReport r = machine.AddMemory(P(nextSection), 128 * MiB);
                    added.Add(nextSection);
                    nextSection += 128 * MiB;
                    hotplugFrames += r.MemmapFramesDelta;
                    hotplugMemmap += r.MemmapPagesDelta + r.MemmapBootPagesDelta;
                    what = "hot-add";
                    break;
                }
                default:
                {
                    if (added.Count == 0) goto case 6;
                    int i = random.Next(added.Count);
                    string before = Describe(machine.GetStatistics());
                    try
                    {
                        HotplugReport r = machine.RemoveMemory(P(added[i]), 128 * MiB);
                        hotplugFrames += r.MemmapFramesDelta;
                        hotplugMemmap += r.MemmapPagesDelta + r.MemmapBootPagesDelta;
                        added.RemoveAt(i);
                        what = "hot-remove";
                    }
                    catch (HotplugException e) when (e.Error == HotplugError.Busy)
                    {
                        // Folios (or their vmemmap pages) are in it: refused, and nothing changed.
                        Assert.Equal(before, Describe(machine.GetStatistics()));
                        what = "hot-remove refused";
                    }
                    break;
                }
            }
            Check(machine, models, boot, balance, hotplugFrames, hotplugMemmap, $"step {step}: {what}");
        }

        // Everything back: folios freed, pools empty, hot-added memory removed.
        foreach (SizeModel m in models.Values)
        {
            foreach ((HugeTlbFolio folio, _) in m.InUse) machine.HugeTlb.FreeFolio(folio);
            m.InUse.Clear();
            m.Surplus = 0;
            m.Total = m.Free.Count;
            machine.HugeTlb.SetOvercommit(m.Size, 0);
            m.Overcommit = 0;
            Assert.True(machine.HugeTlb.TrySetPoolSize(m.Size, 0).IsSuccess);
            m.Free.Clear();
            m.Total = 0;
        }
        foreach (ulong start in added)
        {
            HotplugReport r = machine.RemoveMemory(P(start), 128 * MiB);
            hotplugFrames += r.MemmapFramesDelta;
            hotplugMemmap += r.MemmapPagesDelta + r.MemmapBootPagesDelta;
        }
        Check(machine, models, boot, balance, hotplugFrames, hotplugMemmap, "end");
        HugeTlbStatistics stats = machine.HugeTlb.GetStatistics();
        Assert.Equal(stats.Size2M.FoliosAllocated, stats.Size2M.FoliosFreed);
        Assert.Equal(stats.Size1G.FoliosOptimized, stats.Size1G.FoliosRestored);
        Assert.Equal(0, machine.Memory.Memmap.OptimizedFolios);
    }

    /// <summary>Frames the buddy allocator manages but are not free, minus those the counters explain (memmap
    /// allocated at runtime, page tables, pool folios): constant unless a frame leaked.</summary>
    private static long Balance(MemoryStatistics s, Dictionary<PageSize, SizeModel> models) =>
        s.ManagedPages - s.FreePages - (s.MemmapFrames - s.MemmapBootPages) - s.PageTablePages
        - models[PageSize.Size2M].Total * 512 - models[PageSize.Size1G].Total * 262144;

    private static void Check(Machine machine, Dictionary<PageSize, SizeModel> models, MemoryStatistics boot, long balance,
        long hotplugFrames, long hotplugMemmap, string context)
    {
        machine.RcuBarrier();
        HugeTlbStatistics hugetlb = machine.HugeTlb.GetStatistics();
        long freed = 0;
        foreach (SizeModel m in models.Values)
        {
            Assert.True(m.Counts == machine.HugeTlb.GetCounts(m.Size), $"{context}: {m.Counts} != {machine.HugeTlb.GetCounts(m.Size)}");
            Assert.True(m.Optimized == hugetlb.For(m.Size).FoliosOptimizedNow, $"{context}: {m.Size} optimized {m.Optimized} != {hugetlb.For(m.Size).FoliosOptimizedNow}");
            freed += m.Optimized * (m.Size == PageSize.Size2M ? 7 : 4095);
            foreach ((HugeTlbFolio folio, bool optimized) in m.InUse)
            {
                Assert.Equal(optimized, machine.HugeTlb.IsVmemmapOptimized(folio));
                Assert.Equal(KPageFlags.CompoundHead | KPageFlags.Huge, machine.GetPageFlags(folio.Pfn) & (KPageFlags.CompoundHead | KPageFlags.CompoundTail | KPageFlags.Huge));
                Assert.Equal(KPageFlags.CompoundTail | KPageFlags.Huge, machine.GetPageFlags(folio.Pfn + 64) & (KPageFlags.CompoundHead | KPageFlags.CompoundTail | KPageFlags.Huge));
            }
        }
        MemoryStatistics s = machine.GetStatistics();
        Assert.True(boot.MemmapFrames + hotplugFrames - freed + hugetlb.SharedTailPages == s.MemmapFrames, $"{context}: memmap frames");
        Assert.True(boot.MemmapPages + boot.MemmapBootPages + hotplugMemmap - freed + hugetlb.SharedTailPages == s.MemmapPages + s.MemmapBootPages,
            $"{context}: nr_memmap_pages + nr_memmap_boot_pages");
        Assert.True(balance == Balance(s, models), $"{context}: {Balance(s, models) - balance} frames unaccounted for");
    }
}
