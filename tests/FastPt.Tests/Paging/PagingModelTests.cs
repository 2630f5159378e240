using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Xunit;
using static FastPt.Tests.Paging.PagingFixtures;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.Paging;

/// <summary>The model-based test: long random sequences of map, anonymous regions (4 KiB, transparent huge pages,
/// the zero page), unmap, protect, translate, read, write and A/D harvesting on an address space and on
/// <see cref="ReferenceModel"/>, which predicts every outcome: success or the exact error, every translation and
/// fault (demand faults included: which page, huge page, zero page or copy each installs), the bytes read back, the
/// leaves, their Accessed and Dirty bits, the regions, the page-table counts, the fault counters and the free
/// frames; the frames the demand faults chose are learned from the engine and checked distinct. <c>FASTPT_MODEL_SEED</c> fixes the seed and
/// <c>FASTPT_MODEL_OPERATIONS</c> the number of operations per configuration.</summary>
public class PagingModelTests(ITestOutputHelper output)
{
    private const int DefaultOperations = 6000;
    private const int CheckpointEvery = 25;

    /// <summary>Maps smaller than a gigabyte, and accesses through any leaf, use frames of the first 128 MiB of the
    /// pool only.</summary>
    private const ulong DataFrames = 128 * MiB;

    [Theory]
    [InlineData(PagingMode.FourLevel, false, AddressSpaceLayout.User)]
    [InlineData(PagingMode.FourLevel, true, AddressSpaceLayout.User)]
    [InlineData(PagingMode.FiveLevel, false, AddressSpaceLayout.User)]
    [InlineData(PagingMode.FiveLevel, true, AddressSpaceLayout.User)]
    [InlineData(PagingMode.FourLevel, false, AddressSpaceLayout.FullCanonical)]
    [InlineData(PagingMode.FiveLevel, true, AddressSpaceLayout.FullCanonical)]
    public void Random_operations_agree_with_the_reference_model(PagingMode mode, bool checkedMode, AddressSpaceLayout layout)
    {
        string? seedText = Environment.GetEnvironmentVariable("FASTPT_MODEL_SEED");
        int seed = seedText is null ? Random.Shared.Next() : int.Parse(seedText, CultureInfo.InvariantCulture);
        string? operationsText = Environment.GetEnvironmentVariable("FASTPT_MODEL_OPERATIONS");
        int operations = operationsText is null ? DefaultOperations : int.Parse(operationsText, CultureInfo.InvariantCulture);
        output.WriteLine($"FASTPT_MODEL_SEED={seed} FASTPT_MODEL_OPERATIONS={operations} ({mode}, checked {checkedMode}, {layout})");
        output.WriteLine(new ModelRun(seed, operations, mode, checkedMode, layout).Run());
    }

    /// <summary>One run: the machine, the space, the model and the random choices.</summary>
    private sealed class ModelRun
    {
        private readonly int _seed;
        private readonly int _operations;
        private readonly Random _random;
        private readonly PagingMode _mode;
        private readonly bool _checked;
        private readonly (ulong Start, ulong End)[] _windows;
        private readonly int[] _hugeWindows;
        private readonly AddressSpaceLayout _layout;
        private Machine _machine = null!;
        private AddressSpace _space = null!;
        private MmuContext _context = null!;
        private ReferenceModel _model = null!;
        private ulong _pool;
        private long _freeEmpty;
        private int _step;
        private string _operation = "setup";
        private readonly Queue<string> _history = new();
        private readonly SortedDictionary<string, int> _tally = new(StringComparer.Ordinal);
        private long _most1G;
        private long _most2M;
        private long _most4K;
        private bool _crowded;
        private long _hostBytes;

        public ModelRun(int seed, int operations, PagingMode mode, bool checkedMode, AddressSpaceLayout layout)
        {
            _seed = seed;
            _operations = operations;
            _mode = mode;
            _checked = checkedMode;
            _layout = layout;
            _random = new Random(seed ^ ((int)mode * 7919) ^ (checkedMode ? 104729 : 0) ^ ((int)layout * 15485863));
            ulong top = mode == PagingMode.FiveLevel ? 1UL << 56 : 1UL << 47;
            var windows = new List<(ulong, ulong)>
            {
                (4 * GiB, 8 * GiB),                           // huge leaves: 1 GiB and 2 MiB ones, cut by unmap and protect
                (GiB - 32 * MiB, GiB + 64 * MiB),             // small and 2 MiB leaves across a 1 GiB boundary
                (512 * GiB - 32 * MiB, 512 * GiB + 32 * MiB), // a PUD table boundary
                (top - 32 * MiB, top),                        // the top of the user half
            };
            if (mode == PagingMode.FiveLevel) windows.Add(((1UL << 48) - 32 * MiB, (1UL << 48) + 32 * MiB)); // a P4D boundary
            var huge = new List<int> { HugeWindow };
            if (layout == AddressSpaceLayout.FullCanonical)
            {
                // The higher half, drawn as often as the lower one: huge leaves just below the kernel-text area,
                // the bottom of the half (just above the hole), the last root entry's boundary and, in 5-level,
                // a higher-half P4D boundary — addresses whose low 47 (48) bits alias lower-half ones. The very
                // top page (ending at 2^64) is beyond the model's exclusive ends: GuestLayoutTests cover it.
                ulong bottom = 0UL - top;
                huge.Add(windows.Count);
                windows.Add((TopMinus(8 * GiB), TopMinus(4 * GiB)));
                windows.Add((bottom, bottom + 64 * MiB));
                windows.Add((TopMinus(512 * GiB) - 32 * MiB, TopMinus(512 * GiB) + 32 * MiB));
                if (mode == PagingMode.FiveLevel) windows.Add((TopMinus(1UL << 48) - 32 * MiB, TopMinus(1UL << 48) + 32 * MiB));
            }
            _windows = [.. windows];
            _hugeWindows = [.. huge];
            _lowerWindows = mode == PagingMode.FiveLevel ? 5 : 4;
        }

        private readonly int _lowerWindows;

        private bool IsHuge((ulong Start, ulong End) window) => _hugeWindows.Any(i => _windows[i] == window);

        /// <summary>The exclusive end of the half holding <paramref name="va"/> (higher-half windows stay below 2^64).</summary>
        private ulong HalfEnd(ulong va) => va < _model.UserTop ? _model.UserTop : ulong.MaxValue;

        private void Fail(string what) =>
            Assert.Fail($"seed {_seed} ({_mode}, checked {_checked}), operation {_step}: {_operation}: {what}\n" +
                $"reproduce with FASTPT_MODEL_SEED={_seed} FASTPT_MODEL_OPERATIONS={_operations}\n" +
                $"operations before it:\n  {string.Join("\n  ", _history)}");

        /// <summary>Remembers the last operations for the failure message.</summary>
        private void Record(string operation)
        {
            if (_history.Count == 40) _history.Dequeue();
            _history.Enqueue($"#{_step} {operation}");
        }

        private void Expect<T>(T expected, T actual, string what)
        {
            if (!EqualityComparer<T>.Default.Equals(expected, actual)) Fail($"{what}: expected {expected}, actual {actual}");
        }

        /// <summary>Runs the operations; returns what they did (outcomes by kind, largest leaf counts).</summary>
        public string Run()
        {
            (Machine machine, PhysAddr pool) = MachineWithPool(_mode, _checked);
            _machine = machine;
            _pool = pool.Value;
            try
            {
                _space = machine.CreateAddressSpace(_layout);
                _context = _space.CreateContext();
                _model = new ReferenceModel(_mode, _space.UserTop.Value, machine.MaxPhysicalAddress.Value, machine.Memory.ZeroPfn << 12,
                    _layout == AddressSpaceLayout.FullCanonical);
                _freeEmpty = machine.GetStatistics().FreePages;
                for (_step = 1; _step <= _operations; _step++)
                {
                    try
                    {
                        Operate();
                        if (_step % CheckpointEvery == 0) Checkpoint();
                    }
                    catch (Exception e) when (e is not Xunit.Sdk.IAssertionException)
                    {
                        Fail($"the engine threw {e}");
                    }
                }
                _operation = "final checkpoint";
                Checkpoint();
                _hostBytes = machine.HostBytes;
                UnmapEverything();
                _context.Dispose();
                _space.Dispose();
                Expect(_freeEmpty + 1, machine.GetStatistics().FreePages, "free frames after disposing the space (root included)");
            }
            finally
            {
                machine.Dispose();
            }
            return $"outcomes: {string.Join(", ", _tally.Select(t => $"{t.Key} x{t.Value}"))}; most leaves at once: " +
                $"{_most1G} x 1G, {_most2M} x 2M, {_most4K} x 4K; host memory written {_hostBytes >> 20} MiB; demand faults " +
                $"{_model.DemandFaults} ({_model.ThpFaultAlloc} huge, {_model.ZeroPageFaults} zero page, {_model.ZeroPageCopies} copies of it)";
        }

        private void Tally(string key) => _tally[key] = _tally.GetValueOrDefault(key) + 1;

        // ------------------------------------------------------------------ choices

        private ulong Pages(int max) => (ulong)_random.Next(1, max + 1) * Page;

        private const int HugeWindow = 0;

        private (ulong Start, ulong End) Window()
        {
            // Both halves of a guest space: half of the picks go to the higher half's windows.
            if (_windows.Length > _lowerWindows && _random.Next(2) == 0)
            {
                int high = _random.Next(100) < 35 ? _hugeWindows[1] : _random.Next(_lowerWindows + 1, _windows.Length);
                return _windows[high];
            }
            int pick = _random.Next(100);
            if (pick < 35) return _windows[HugeWindow];
            if (pick < 65) return _windows[1];
            if (pick < 80) return _windows[2];
            if (pick < 88 || _lowerWindows == 4) return _windows[3];
            return _windows[4];
        }

        /// <summary>An address near something interesting: a leaf, a 2 MiB or 1 GiB boundary, or anywhere.</summary>
        private ulong Address((ulong Start, ulong End) window)
        {
            ulong span = window.End - window.Start;
            ulong anywhere = window.Start + (ulong)_random.NextInt64((long)(span / Page)) * Page;
            switch (_random.Next(10))
            {
                case < 5:
                    if (_model.AtOrAfter(anywhere) is { } leaf && leaf.Va < window.End)
                    {
                        ulong offset = leaf.Size == Page ? 0 : (ulong)_random.NextInt64((long)(leaf.Size / Page)) * Page;
                        if (_random.Next(3) == 0) offset = 0;
                        long jitter = _random.Next(4) == 0 ? _random.Next(-4, 5) * (long)Page : 0;
                        ulong a = (ulong)((long)(leaf.Va + offset) + jitter);
                        return Math.Clamp(a, window.Start, window.End - Page);
                    }
                    return anywhere;
                case < 8:
                    ulong boundary = _random.Next(4) == 0 ? GiB : 2 * MiB;
                    ulong aligned = (anywhere + boundary - 1) & ~(boundary - 1);
                    if (aligned >= window.End) aligned = anywhere & ~(boundary - 1);
                    long near = _random.Next(2) == 0 ? 0 : _random.Next(-8, 9) * (long)Page;
                    return Math.Clamp((ulong)((long)aligned + near), window.Start, window.End - Page);
                default:
                    return anywhere;
            }
        }

        private static Protection RandomProtection(Random random) => Protections[random.Next(Protections.Length)];

        private ulong Length()
        {
            return _random.Next(100) switch
            {
                < 40 => Pages(16),
                < 65 => Pages(1024),
                < 80 => (ulong)_random.Next(1, 5) * 2 * MiB,
                < 90 => Pages(4096),
                _ => Pages(4),
            };
        }

        // ------------------------------------------------------------------ operations

        private void Operate()
        {
            int pick = _random.Next(100);
            _crowded = _model.LeafCount(PageSize.Size4K) > 12_000 || _model.LeafCount(PageSize.Size2M) > 2_000
                || _model.AnonymousFrames > 64 * 1024 || _model.RegionCount > 60;
            if (_crowded && pick < 30 && _random.Next(2) == 0) pick = 30; // unmap more when the space fills up
            switch (pick)
            {
                case < 24: Map(); break;
                case < 30: MapAnonymous(); break;
                case < 47: Unmap(); break;
                case < 60: Protect(); break;
                case < 63: Batch(); break;
                case < 73:
                    _operation = "translations";
                    TranslateSome(null, 6);
                    break;
                case < 94: Access(); break;
                default: Collect(); break;
            }
        }

        private void Map()
        {
            (ulong Start, ulong End) window = Window();
            bool huge = IsHuge(window);
            ulong va = Address(window);
            ulong length = Length();
            PageSize? size = null;
            int kind = _random.Next(100);
            if (huge && kind < 25)
            {
                // A 1 GiB leaf (auto or forced), or a gigabyte of 2 MiB leaves, or a bit more or less.
                // Mostly a gigabyte with nothing in it, so that the leaf can be placed.
                var free = Enumerable.Range(0, 4).Select(i => window.Start + (ulong)i * GiB)
                    .Where(g => _model.FirstOverlapping(g, g + GiB) is null).ToList();
                va = free.Count > 0 && _random.Next(4) != 0 ? free[_random.Next(free.Count)] : window.Start + (ulong)_random.Next(4) * GiB;
                length = GiB;
                size = _random.Next(3) switch { 0 => PageSize.Size1G, 1 => null, _ => _random.Next(2) == 0 ? PageSize.Size2M : null };
                if (size is null && _random.Next(3) == 0) length -= Pages(600);
            }
            else if (huge && kind < 60)
            {
                va &= ~(2 * MiB - 1);
                length = (ulong)_random.Next(1, 9) * 2 * MiB;
                if (_random.Next(3) == 0) length += Pages(511);
                if (_random.Next(3) == 0) size = PageSize.Size2M;
            }
            else if (kind < 70) size = PageSize.Size4K;
            else if (kind < 76)
            {
                size = PageSize.Size2M;
                if (_random.Next(4) != 0)
                {
                    va &= ~(2 * MiB - 1);
                    length = (length + 2 * MiB - 1) & ~(2 * MiB - 1);
                }
            }
            length = Math.Min(length, GiB);
            // Frames inside the pool: often congruent with va modulo 2 MiB so that huge leaves are possible. Below
            // a gigabyte they come from the first DataFrames bytes of the pool, which keeps the host memory the
            // data costs small and makes aliases (two pages on one frame) common.
            ulong span = Math.Max(DataFrames, length);
            ulong pa;
            int congruence = _random.Next(100);
            if (length > GiB - 2 * MiB) pa = _pool + (_random.Next(8) == 0 ? 2 * MiB : 0);
            else if (congruence < (huge ? 85 : 40))
            {
                ulong blocks = (span - length) / (2 * MiB);
                pa = _pool + (ulong)_random.NextInt64((long)blocks + 1) * 2 * MiB + (va & (2 * MiB - 1));
                if (pa + length > _pool + GiB) pa -= 2 * MiB;
            }
            else pa = _pool + (ulong)_random.NextInt64((long)((span - length) / Page) + 1) * Page;
            Protection protection = RandomProtection(_random);

            // Now and then a request that breaks a rule.
            switch (_random.Next(60))
            {
                case 0: length = 0; break;
                case 1: va += 8; break;
                case 2: length += 100; break;
                case 3: pa = _machine.MaxPhysicalAddress.Value - Page; length = 2 * Page; break;
                case 4: va = _model.UserTop - Page; length = 2 * Page; break; // out of range, or across the hole
                case 5: va = _model.UserTop + GiB; break; // non-canonical
                case 6: va = _machine.DirectMapBase.Value; break;
                case 7: pa += 16; break;
                default: break;
            }
            _operation = $"Map(0x{va:x}, 0x{pa:x}, 0x{length:x}, {protection}, {(size is { } s ? s.ShortName() : "auto")})";
            Record(_operation);
            Expectation expected = _model.Map(va, pa, length, protection, size);
            AssertOutcome(expected, () => _space.TryMap(V(va), P(pa), length, protection, size), va, length);
            if (expected.IsSuccess)
            {
                // The leaves of the new range are exactly the greedy choice the model made.
                CompareLeaves(va, length);
            }
        }

        /// <summary>Reserves an anonymous region (often 2 MiB aligned, so that huge pages fit), sometimes over
        /// something already there or with a bad argument.</summary>
        private void MapAnonymous()
        {
            (ulong Start, ulong End) window = Window();
            ulong va = Address(window);
            ulong length = Length();
            var options = (AnonymousOptions)_random.Next(4);
            if ((options & AnonymousOptions.TransparentHugePages) != 0 && _random.Next(2) == 0)
            {
                va &= ~(2 * MiB - 1);
                length = (ulong)_random.Next(1, 5) * 2 * MiB + (_random.Next(3) == 0 ? Pages(511) : 0);
            }
            length = Math.Min(length, window.End - Math.Min(va, window.End - Page));
            Protection protection = RandomProtection(_random);
            switch (_random.Next(40))
            {
                case 0: length = 0; break;
                case 1: va += 8; break;
                case 2: va = _model.UserTop - Page; length = 2 * Page; break;
                default: break;
            }
            _operation = $"MapAnonymous(0x{va:x}, 0x{length:x}, {protection}, {options})";
            Record(_operation);
            Expectation expected = _model.MapAnonymous(va, length, protection, options);
            AssertOutcome(expected, () => _space.TryMapAnonymous(V(va), length, protection, options), va, length);
        }

        /// <summary>An address inside an anonymous region near <paramref name="va"/>, if there is one.</summary>
        private ulong? RegionAddress(ulong va)
        {
            if ((_model.RegionAtOrAfter(va) ?? _model.RegionAtOrAfter(0)) is not { } region) return null;
            ulong pages = (region.End - region.Start) / Page;
            ulong page = _random.Next(3) == 0 ? 0 : (ulong)_random.NextInt64((long)pages);
            return region.Start + page * Page;
        }

        /// <summary>Tells the model how many 2 MiB frames a huge fault could get now (from buddyinfo: a larger free
        /// block holds several), before an operation that may fault.</summary>
        private void BeforeFaults()
        {
            if (_model.RegionCount == 0) return;
            IReadOnlyList<long> blocks = _machine.GetStatistics().FreeBlocksPerOrder;
            long huge = 0;
            for (int o = 9; o < blocks.Count; o++) huge += blocks[o] << (o - 9);
            _model.HugeFramesFree = huge;
        }

        /// <summary>After an operation that may have faulted pages in: the model learns their frames, and the
        /// counts (free frames, tables, leaves, fault counters, regions) must agree at once.</summary>
        private void AfterFaults()
        {
            if (_model.Learn(va => _space.Lookup(V(va)), _pool, _pool + GiB) is { } problem) Fail(problem);
            if (_model.RegionCount > 0) CheckCounts();
        }

        /// <summary>A range for unmap/protect: mostly inside a mapped stretch (often cutting huge leaves),
        /// sometimes running into a hole, sometimes anywhere.</summary>
        private (ulong Va, ulong Length) ChangeRange()
        {
            (ulong Start, ulong End) window = Window();
            ulong va = Address(window);
            if (_model.RegionCount > 0 && _random.Next(10) < 3 && RegionAddress(va) is { } inRegion)
            {
                // In an anonymous region (pages faulted in or not), often cutting it and its huge pages.
                va = inRegion;
                ulong room = (_model.CoveredExtent(va, va + 2 * GiB) - va) / Page;
                ulong pages = _random.Next(3) == 0 ? room : (ulong)_random.NextInt64(1, (long)room + 1);
                if (_random.Next(8) == 0) pages += (ulong)_random.Next(1, 4); // into the hole after it
                return (va, pages * Page);
            }
            if (_random.Next(10) < 8 && (_model.AtOrAfter(va) ?? _model.AtOrAfter(window.Start)) is { } leaf && leaf.Va < window.End)
            {
                va = leaf.Va;
                if (_random.Next(3) != 0) va += (ulong)_random.NextInt64((long)(leaf.Size / Page)) * Page;
                ulong extent = _model.CoveredExtent(va, Math.Min(window.End, va + 2 * GiB));
                ulong room = (extent - va) / Page;
                ulong pages = (_crowded ? 0 : _random.Next(4)) switch
                {
                    0 => room,
                    1 => (ulong)_random.NextInt64(1, Math.Min((long)room, 16) + 1),
                    _ => (ulong)_random.NextInt64(1, (long)room + 1),
                };
                if (_random.Next(6) == 0) pages += (ulong)_random.Next(1, 4); // into the hole after it
                return (va, pages * Page);
            }
            ulong length = Length();
            switch (_random.Next(40))
            {
                case 0: length = 0; break;
                case 1: va += 2048; break;
                case 2: va = _model.UserTop - Page; length = 2 * Page; break;
                case 3: va = ulong.MaxValue - Page + 1; length = 2 * Page; break;
                default: break;
            }
            return (va, length);
        }

        private void Unmap()
        {
            (ulong va, ulong length) = ChangeRange();
            _operation = $"Unmap(0x{va:x}, 0x{length:x})";
            Record(_operation);
            Expectation expected = _model.Unmap(va, length);
            if (_random.Next(8) == 0)
            {
                // Through a gather: the checks run after it ended, when its frees are done.
                _operation += " in a gather";
                AssertOutcome(expected, () =>
                {
                    using MmuGather gather = _space.BeginGather();
                    return _space.TryUnmap(V(va), length, gather);
                }, va, length);
            }
            else
            {
                AssertOutcome(expected, () => _space.TryUnmap(V(va), length), va, length);
            }
            AfterChange(expected, va, length);
        }

        private void Protect()
        {
            (ulong va, ulong length) = ChangeRange();
            Protection protection = RandomProtection(_random);
            _operation = $"Protect(0x{va:x}, 0x{length:x}, {protection})";
            Record(_operation);
            Expectation expected = _model.Protect(va, length, protection);
            if (_random.Next(8) == 0)
            {
                _operation += " in a gather";
                AssertOutcome(expected, () =>
                {
                    using MmuGather gather = _space.BeginGather();
                    return _space.TryProtect(V(va), length, protection, gather);
                }, va, length);
            }
            else
            {
                AssertOutcome(expected, () => _space.TryProtect(V(va), length, protection), va, length);
            }
            AfterChange(expected, va, length);
        }

        /// <summary>Several unmaps and protects sharing one gather (one flush); the checks run after it ended.</summary>
        private void Batch()
        {
            int count = _random.Next(2, 5);
            var changes = new List<(bool Unmap, ulong Va, ulong Length, Protection Protection, Expectation Expected)>();
            for (int i = 0; i < count; i++)
            {
                (ulong va, ulong length) = ChangeRange();
                bool unmap = _random.Next(2) == 0;
                Protection protection = RandomProtection(_random);
                Expectation expected = unmap ? _model.Unmap(va, length) : _model.Protect(va, length, protection);
                changes.Add((unmap, va, length, protection, expected));
            }
            _operation = "gather { " + string.Join("; ", changes.Select(c => c.Unmap
                ? $"Unmap(0x{c.Va:x}, 0x{c.Length:x})" : $"Protect(0x{c.Va:x}, 0x{c.Length:x}, {c.Protection})")) + " }";
            Record(_operation);
            var results = new List<PagingResult>();
            using (MmuGather gather = _space.BeginGather())
            {
                foreach ((bool unmap, ulong va, ulong length, Protection protection, Expectation _) in changes)
                    results.Add(unmap ? _space.TryUnmap(V(va), length, gather) : _space.TryProtect(V(va), length, protection, gather));
            }
            for (int i = 0; i < changes.Count; i++)
            {
                Expectation expected = changes[i].Expected;
                PagingResult result = results[i];
                Tally($"gathered {(changes[i].Unmap ? "Unmap" : "Protect")} {(result.IsSuccess ? "ok" : result.Error.ToString())}");
                bool agrees = expected.IsSuccess ? result.IsSuccess : expected.Errors.Contains(result.Error) && result.Address.Value == expected.Address;
                if (!agrees) Fail($"change #{i + 1} of the gather: expected {expected}, got {result}");
            }
            CheckCounts();
            foreach ((bool _, ulong va, ulong length, Protection _, Expectation expected) in changes)
                AfterChange(expected, va, length);
        }

        private void AfterChange(Expectation expected, ulong va, ulong length)
        {
            if (!expected.IsSuccess) return;
            CompareLeaves(va, length);
            // Translations in and around the range, which the TLBs very likely hold.
            TranslateSome(va, 3);
            TranslateSome(va + length - 1, 2);
            TranslateSome(va + (ulong)_random.NextInt64((long)(length / Page)) * Page, 2);
        }

        /// <summary>Runs the operation and checks its outcome; a failure must change nothing.</summary>
        private void AssertOutcome(Expectation expected, Func<PagingResult> operation, ulong va, ulong length)
        {
            bool inRange = _model.IsCanonical(va) && va <= _model.Last && length != 0 && va + length > va;
            (ulong, ulong)[] region = inRange
                ? [(va & ~(GiB - 1), Math.Min(HalfEnd(va), ((va + length + GiB - 1) & ~(GiB - 1))) - (va & ~(GiB - 1)))]
                : [];
            TableSnapshot? before = expected.IsSuccess || !inRange ? null : TableSnapshot.Take(_machine, _space, region);
            long freeBefore = _machine.GetStatistics().FreePages;
            PageTableCounts tablesBefore = _space.PageTables;
            PagingResult result = operation();
            Tally($"{_operation[.._operation.IndexOf('(', StringComparison.Ordinal)]} {(result.IsSuccess ? "ok" : result.Error.ToString())}");
            if (expected.IsSuccess)
            {
                if (!result.IsSuccess) Fail($"expected success, got {result}");
            }
            else
            {
                if (!expected.Errors.Contains(result.Error) || result.Address.Value != expected.Address)
                    Fail($"expected {expected}, got {result}");
                if (expected.Existing is { } existing) Expect<Mapping?>(existing, result.Existing, "the existing mapping reported");
                if (before is not null) Expect(before, TableSnapshot.Take(_machine, _space, region), "tables after a failed operation");
                Expect(tablesBefore, _space.PageTables, "table counts after a failed operation");
                Expect(freeBefore, _machine.GetStatistics().FreePages, "free frames after a failed operation");
            }
            CheckCounts();
        }

        /// <summary>Cheap checks after every operation: table and leaf counts and free frames.</summary>
        private void CheckCounts()
        {
            PageTableCounts tables = _space.PageTables;
            Expect(_model.ExpectedTables, tables, "page tables the leaves need");
            MemoryStatistics statistics = _machine.GetStatistics();
            Expect(_freeEmpty - tables.Total - _model.AnonymousFrames, statistics.FreePages, "free frames (every frame not in a table or faulted in)");
            Expect(_model.DemandFaults, statistics.PageFaults, "demand faults (pgfault)");
            Expect(_model.ThpFaultAlloc, statistics.ThpFaultAlloc, "thp_fault_alloc");
            Expect(_model.ThpFaultFallback, statistics.ThpFaultFallback, "thp_fault_fallback");
            Expect(_model.ZeroPageFaults, statistics.ZeroPageFaults, "zero-page faults");
            Expect(_model.ZeroPageCopies, statistics.ZeroPageCopies, "zero-page copies");
            if (_model.RegionCount > 0 || _space.AnonymousRegions.Count > 0)
            {
                var regions = _model.AnonymousRegions.Select(r => r.ToRegion()).ToList();
                IReadOnlyList<AnonymousRegion> actualRegions = _space.AnonymousRegions;
                if (!regions.SequenceEqual(actualRegions))
                    Fail($"regions: expected {string.Join(", ", regions)}; actual {string.Join(", ", actualRegions)}");
            }
            Expect(_model.MappedBytes, _space.MappedBytes, "mapped bytes");
            foreach (PageSize size in new[] { PageSize.Size4K, PageSize.Size2M, PageSize.Size1G })
                Expect(_model.LeafCount(size), _space.LeafCount(size), $"{size.ShortName()} leaves");
            _most1G = Math.Max(_most1G, _model.LeafCount(PageSize.Size1G));
            _most2M = Math.Max(_most2M, _model.LeafCount(PageSize.Size2M));
            _most4K = Math.Max(_most4K, _model.LeafCount(PageSize.Size4K));
        }

        /// <summary>The leaves around [va, +length) (from the 2 MiB block before it to the one after it, and any
        /// huge leaf overlapping that) agree with the model: new leaves, splits and protections.</summary>
        private void CompareLeaves(ulong va, ulong length)
        {
            ulong halfStart = va < _model.UserTop ? 0 : _model.HigherHalfStart; // a dump never crosses the hole
            ulong start = Math.Max(va & ~(2 * MiB - 1), halfStart + 2 * MiB) - 2 * MiB;
            ulong end = Math.Min(HalfEnd(va), ((va + length + 2 * MiB - 1) & ~(2 * MiB - 1)) + 2 * MiB);
            var actual = Leaves(_space, start, end - start);
            var expected = _model.Overlapping(start, end).Select(l => (l.Va, l.Pa, l.PageSize, l.Protection)).ToList();
            if (!expected.SequenceEqual(actual))
            {
                int i = 0;
                while (i < expected.Count && i < actual.Count && expected[i] == actual[i]) i++;
                Fail($"leaves of 0x{start:x}-0x{end:x} differ at #{i}: expected {(i < expected.Count ? expected[i] : "none")}, actual {(i < actual.Count ? actual[i] : "none")} ({expected.Count} expected, {actual.Count} actual)");
            }
        }

        private void TranslateSome(ulong? around, int count)
        {
            for (int i = 0; i < count; i++)
            {
                ulong va;
                if (around is { } a) va = a + (ulong)_random.Next(0, 64);
                else if (_model.RegionCount > 0 && _random.Next(4) == 0 && RegionAddress(Address(Window())) is { } inRegion)
                    va = inRegion + (ulong)_random.Next(4096);
                else if (_random.Next(3) != 0 && _model.AtOrAfter(Address(Window())) is { } leaf)
                    va = leaf.Va + (ulong)_random.NextInt64((long)Math.Min(leaf.Size, DataFrames / 2));
                else va = Address(Window()) + (ulong)_random.Next(4096);
                if (_random.Next(50) == 0) va = _random.Next(2) == 0 ? _model.UserTop + 5 : _machine.DirectMapBase.Value + 5;
                var access = (AccessKind)_random.Next(3);
                bool explicitContext = _random.Next(3) == 0;
                string previous = _operation;
                _operation = $"{previous}; Translate(0x{va:x}, {access}){(explicitContext ? " in the explicit context" : "")}";
                Record($"  Translate(0x{va:x}, {access}){(explicitContext ? " in the explicit context" : "")}");
                BeforeFaults();
                ModelTranslation expected = _model.Translate(va, access);
                Tally($"Translate {(expected.Fault is { } f ? f.Reason.ToString() : "ok")}");
                Translation actual = explicitContext ? _context.Translate(V(va), access) : _space.Translate(V(va), access);
                AfterFaults();
                if (expected.Fault is { } fault)
                {
                    if (actual.Succeeded) Fail($"expected {fault}, translated to {actual}");
                    Expect(fault, actual.Fault, "fault");
                }
                else
                {
                    if (!actual.Succeeded) Fail($"expected {expected}, got {actual}");
                    Expect(expected.Pa, actual.PhysAddr.Value, "physical address");
                    Expect(expected.Size, actual.PageSize, "leaf size");
                }
                bool fast = (explicitContext ? _context : _space.CurrentContext).TryTranslate(V(va), access, out PhysAddr pa);
                Expect(expected.Fault is null, fast, "TryTranslate succeeded");
                if (fast) Expect(expected.Pa, pa.Value, "TryTranslate physical address");
                _operation = previous;
            }
        }

        private void Access()
        {
            (ulong Start, ulong End) window = Window();
            ulong va;
            if (_random.Next(10) < 7 && _model.AtOrAfter(Address(window)) is { } leaf)
            {
                va = leaf.Va + (ulong)_random.NextInt64((long)Math.Min(leaf.Size, DataFrames / 2));
                if (_random.Next(3) == 0) va = (va | (Page - 1)) - (ulong)_random.Next(16); // near the end of a page
            }
            else
            {
                va = Address(window) + (ulong)_random.Next(4096);
                if (_model.Covering(va) is { Size: > 2 * MiB } huge) va = huge.Va + (va - huge.Va) % (DataFrames / 2);
            }
            if (_model.RegionCount > 0 && _random.Next(10) < 3 && RegionAddress(Address(window)) is { } inRegion)
            {
                va = inRegion + (ulong)_random.Next(4096);
                if (_random.Next(3) == 0) va = (va | (Page - 1)) - (ulong)_random.Next(16); // across into the next page
            }
            MmuContext context = _random.Next(3) == 0 ? _context : _space.CurrentContext;
            string where = ReferenceEquals(context, _context) ? "explicit context" : "implicit context";
            BeforeFaults();
            AccessAt(va, context, where);
            AfterFaults();
        }

        private void AccessAt(ulong va, MmuContext context, string where)
        {
            switch (_random.Next(6))
            {
                case 0:
                case 1:
                {
                    int length = _random.Next(4) == 0 ? _random.Next(1, 9000) : _random.Next(1, 64);
                    var data = new byte[length];
                    _random.NextBytes(data);
                    _operation = $"TryWrite(0x{va:x}, {length} bytes) in the {where}";
                    Record(_operation);
                    PageFault? expected = _model.Access(va, data, AccessKind.Write);
                    bool ok = context.TryWrite(V(va), data, out PageFault fault);
                    CheckAccess(expected, ok, fault);
                    break;
                }
                case 2:
                case 3:
                {
                    int length = _random.Next(4) == 0 ? _random.Next(1, 9000) : _random.Next(1, 64);
                    var expectedData = new byte[length];
                    var data = new byte[length];
                    data.AsSpan().Fill(0xA5);
                    _operation = $"TryRead(0x{va:x}, {length} bytes) in the {where}";
                    Record(_operation);
                    PageFault? expected = _model.Access(va, expectedData, AccessKind.Read);
                    bool ok = context.TryRead(V(va), data, out PageFault fault);
                    CheckAccess(expected, ok, fault);
                    if (expected is null && !data.AsSpan().SequenceEqual(expectedData))
                    {
                        int at = data.AsSpan().CommonPrefixLength(expectedData);
                        Fail($"byte {at} (at 0x{va + (ulong)at:x}) reads 0x{data[at]:x2}, the model says 0x{expectedData[at]:x2}");
                    }
                    if (expected is not null && data.Any(b => b != 0xA5)) Fail("a faulting read wrote into the destination");
                    break;
                }
                case 4:
                {
                    ulong value = (ulong)_random.NextInt64();
                    _operation = $"Write<ulong>(0x{va:x}, 0x{value:x}) in the {where}";
                    Record(_operation);
                    PageFault? expected = _model.Access(va, BitConverter.GetBytes(value), AccessKind.Write);
                    PageFault? actual = null;
                    try
                    {
                        context.Write(V(va), value);
                    }
                    catch (PageFaultException e)
                    {
                        actual = e.Fault;
                    }
                    Expect(expected, actual, "fault");
                    Tally($"access {(expected is { } f ? f.Reason.ToString() : "ok")}");
                    break;
                }
                default:
                {
                    _operation = $"Read<ulong>(0x{va:x}) in the {where}";
                    Record(_operation);
                    var bytes = new byte[8];
                    PageFault? expected = _model.Access(va, bytes, AccessKind.Read);
                    PageFault? actual = null;
                    ulong value = 0;
                    try
                    {
                        value = context.Read<ulong>(V(va));
                    }
                    catch (PageFaultException e)
                    {
                        actual = e.Fault;
                    }
                    Expect(expected, actual, "fault");
                    Tally($"access {(expected is { } f ? f.Reason.ToString() : "ok")}");
                    if (expected is null) Expect(BitConverter.ToUInt64(bytes), value, "value read");
                    break;
                }
            }
        }

        private void CheckAccess(PageFault? expected, bool ok, PageFault fault)
        {
            Tally($"access {(expected is { } e ? e.Reason.ToString() : "ok")}");
            if (expected is { } f)
            {
                if (ok) Fail($"expected {f}, the access succeeded");
                Expect(f, fault, "fault");
            }
            else if (!ok)
            {
                Fail($"expected success, got {fault}");
            }
        }

        private void Collect()
        {
            (ulong Start, ulong End) window = Window();
            ulong va = Address(window);
            ulong length = Math.Min(_random.Next(3) == 0 ? Pages(4096) : Pages(600), window.End - va);
            bool dirty = _random.Next(2) == 0;
            _operation = $"{(dirty ? "CollectDirty" : "CollectAccessed")}(0x{va:x}, 0x{length:x})";
            Record(_operation);
            int words = (int)((length / Page + 63) / 64);
            var expectedBits = new ulong[words];
            var actualBits = new ulong[words];
            long expected = _model.Collect(va, length, dirty, expectedBits);
            long actual = dirty ? _space.CollectDirty(V(va), length, actualBits) : _space.CollectAccessed(V(va), length, actualBits);
            Expect(expected, actual, "pages reported");
            Tally(expected > 0 ? "Collect some" : "Collect none");
            for (int w = 0; w < words; w++)
                if (expectedBits[w] != actualBits[w])
                    Fail($"bitmap word {w} (pages from 0x{va + (ulong)w * 64 * Page:x}): expected {expectedBits[w]:x16}, actual {actualBits[w]:x16}");
            CheckCounts();
        }

        // ------------------------------------------------------------------ whole-space checks

        private void Checkpoint()
        {
            CheckCounts();
            // Every leaf of the space, from a dump, is a leaf of the model, and the tables are what those leaves
            // need by the accounting rule (no empty table kept).
            var runs = new List<MappingRun>(_space.Dump(V(0), _model.UserTop));
            // A guest's higher half, dumped up to 2^64 (its length is 2^64 minus its start).
            if (_model.FullCanonical) runs.AddRange(_space.Dump(V(_model.HigherHalfStart), 0UL - _model.HigherHalfStart));
            var actual = new List<(ulong, ulong, PageSize, Protection)>();
            foreach (MappingRun run in runs)
            {
                ulong size = run.PageSize.Bytes();
                for (long i = 0; i < run.Pages; i++)
                    actual.Add((run.Start.Value + (ulong)i * size, run.Physical.Value + (ulong)i * size, run.PageSize, run.Protection));
            }
            var expected = _model.Leaves.Select(l => (l.Va, l.Pa, l.PageSize, l.Protection)).ToList();
            if (!expected.SequenceEqual(actual))
            {
                int i = 0;
                while (i < expected.Count && i < actual.Count && expected[i] == actual[i]) i++;
                Fail($"dump differs at leaf #{i}: expected {(i < expected.Count ? expected[i] : "none")}, actual {(i < actual.Count ? actual[i] : "none")}");
            }
            Expect(ExpectedTablesOfRuns(runs, _mode), _space.PageTables, "page tables by the rule, from the dump");
            // Accessed and Dirty bits of the leaves (all of them when few, else a sample and every huge leaf).
            List<ModelLeaf> leaves = _model.Leaves.ToList();
            IEnumerable<ModelLeaf> sample = leaves.Count <= 1500 ? leaves
                : leaves.Where(l => l.Size > Page || _random.Next(leaves.Count) < 300);
            foreach (ModelLeaf leaf in sample)
            {
                ulong at = leaf.Va + (ulong)_random.NextInt64((long)(leaf.Size / Page)) * Page;
                Expect<Mapping?>(leaf.ToMapping(), _space.Lookup(V(at)), $"Lookup(0x{at:x})");
            }
        }

        private void UnmapEverything()
        {
            while ((_model.AtOrAfter(0), _model.RegionAtOrAfter(0)) is var (leaf, region) && (leaf is not null || region is not null))
            {
                ulong va = Math.Min(leaf?.Va ?? ulong.MaxValue, region?.Start ?? ulong.MaxValue);
                ulong length = _model.CoveredExtent(va, HalfEnd(va)) - va;
                _operation = $"final Unmap(0x{va:x}, 0x{length:x})";
                Record(_operation);
                Expectation expected = _model.Unmap(va, length);
                AssertOutcome(expected, () => _space.TryUnmap(V(va), length), va, length);
            }
            Expect(0L, _space.PageTables.Total, "tables left after unmapping everything");
            Expect(0, _space.AnonymousRegions.Count, "regions left after unmapping everything");
            Expect(_freeEmpty, _machine.GetStatistics().FreePages, "free frames after unmapping everything");
        }
    }
}
