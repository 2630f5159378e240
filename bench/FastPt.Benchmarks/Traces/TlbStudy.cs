using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;

namespace FastPt.Benchmarks.Traces;

/// <summary>Chooses the TLB's organisation by measurement: replays every recorded trace (fetches and data, one 4 KiB
/// page number per access) through models of candidate organisations of the same capacity and reports, per trace,
/// the misses of a cold pass and of a warm second pass, and for set-associative ones how often a hit is in the
/// first way probed (a hit there costs what a direct-mapped hit costs). Run with
/// <c>dotnet run -c Release --project bench/FastPt.Benchmarks -- tlb-study [report.md]</c>.</summary>
internal static class TlbStudy
{
    /// <summary>One candidate organisation; <see cref="Access"/> returns the way that hit (0 = first probed) or
    /// -1 for a miss, after which the model has filled the page.</summary>
    private abstract class Model(string name)
    {
        public string Name { get; } = name;

        public abstract int Access(ulong page);

        public abstract void Clear();
    }

    /// <summary>Direct-mapped, indexed by the low bits of the page number or by a fold of higher bits into them;
    /// optionally with QEMU's victim TLB (fully associative, round-robin, consulted on a miss, swapped in on a hit).</summary>
    private sealed class DirectMapped(int entries, bool hashed, int victims)
        : Model($"direct-mapped {entries}{(hashed ? ", folded index" : "")}{(victims > 0 ? $", victim {victims}" : "")}")
    {
        private readonly ulong[] _tags = new ulong[entries];
        private readonly ulong[] _victim = new ulong[Math.Max(victims, 1)];
        private int _next;

        private int Index(ulong page) => (int)((hashed ? page ^ (page >> 10) ^ (page >> 20) : page) & (ulong)(entries - 1));

        public override int Access(ulong page)
        {
            ulong tag = page + 1;
            int i = Index(page);
            if (_tags[i] == tag) return 0;
            for (int v = 0; v < victims; v++)
            {
                if (_victim[v] != tag) continue;
                (_victim[v], _tags[i]) = (_tags[i], tag);
                return 1;
            }
            if (victims > 0 && _tags[i] != 0)
            {
                _victim[_next] = _tags[i];
                _next = (_next + 1) % victims;
            }
            _tags[i] = tag;
            return -1;
        }

        public override void Clear()
        {
            Array.Clear(_tags);
            Array.Clear(_victim);
            _next = 0;
        }
    }

    /// <summary>Set-associative: the new page goes to way 0 and the others shift down (the oldest leaves); with
    /// <paramref name="promote"/> a hit in another way moves to way 0 too (LRU), without it the order is the fill
    /// order (FIFO), so a hit costs no store. With <paramref name="victims"/>, the entry leaving a set goes to a
    /// victim TLB (fully associative, round-robin) probed after the set; a victim hit is swapped into way 0.</summary>
    private sealed class SetAssociative(int entries, int ways, bool promote, int victims = 0)
        : Model($"{ways}-way {entries / ways} sets, {(promote ? "LRU" : "FIFO")}{(victims > 0 ? $", victim {victims}" : "")}")
    {
        private readonly ulong[] _tags = new ulong[entries];
        private readonly ulong[] _victim = new ulong[Math.Max(victims, 1)];
        private int _next;

        public override int Access(ulong page)
        {
            ulong tag = page + 1;
            int set = (int)(page & (ulong)(entries / ways - 1)) * ways;
            for (int w = 0; w < ways; w++)
            {
                if (_tags[set + w] != tag) continue;
                if (promote)
                {
                    for (int k = w; k > 0; k--) _tags[set + k] = _tags[set + k - 1];
                    _tags[set] = tag;
                }
                return w;
            }
            ulong leaving = _tags[set + ways - 1];
            for (int k = ways - 1; k > 0; k--) _tags[set + k] = _tags[set + k - 1];
            _tags[set] = tag;
            for (int v = 0; v < victims; v++)
            {
                if (_victim[v] != tag) continue;
                _victim[v] = leaving;
                return ways;
            }
            if (victims > 0 && leaving != 0)
            {
                _victim[_next] = leaving;
                _next = (_next + 1) % victims;
            }
            return -1;
        }

        public override void Clear()
        {
            Array.Clear(_tags);
            Array.Clear(_victim);
            _next = 0;
        }
    }

    /// <summary>Fully associative LRU of the same capacity: the floor no organisation of this size goes below.</summary>
    private sealed class FullyAssociative(int entries) : Model($"fully associative {entries}, LRU")
    {
        private readonly LinkedList<ulong> _order = new();
        private readonly Dictionary<ulong, LinkedListNode<ulong>> _nodes = new();

        public override int Access(ulong page)
        {
            if (_nodes.TryGetValue(page, out LinkedListNode<ulong>? node))
            {
                _order.Remove(node);
                _order.AddFirst(node);
                return 0;
            }
            if (_nodes.Count == entries)
            {
                _nodes.Remove(_order.Last!.Value);
                _order.RemoveLast();
            }
            _nodes[page] = _order.AddFirst(page);
            return -1;
        }

        public override void Clear()
        {
            _order.Clear();
            _nodes.Clear();
        }
    }

    /// <summary>Runs the study over every trace of <c>bench/traces/</c> and prints (and writes, if a path is given)
    /// a markdown report.</summary>
    public static void Run(string[] args)
    {
        string[] files = LackeyTrace.Find();
        if (files.Length == 0) throw new InvalidOperationException("no traces in bench/traces/: run bench/traces/record.sh");
        Model[] models =
        [
            new DirectMapped(1024, hashed: false, victims: 0),
            new DirectMapped(1024, hashed: false, victims: 8),
            new DirectMapped(1024, hashed: true, victims: 0),
            new DirectMapped(2048, hashed: false, victims: 0),
            new SetAssociative(1024, 2, promote: false),
            new SetAssociative(1024, 2, promote: true),
            new SetAssociative(1024, 2, promote: true, victims: 8),
            new SetAssociative(1024, 4, promote: false),
            new SetAssociative(1024, 4, promote: true),
            new FullyAssociative(1024),
        ];
        var report = new StringBuilder();
        report.AppendLine("# TLB organisations on real traces");
        report.AppendLine();
        report.AppendLine("Each trace (valgrind lackey, fetches and data) replayed twice through each model; misses of the cold first");
        report.AppendLine("pass and of the warm second pass, the warm hit rate, and the share of warm hits found in the first way probed.");
        foreach (string file in files)
        {
            LackeyTrace trace = LackeyTrace.Read(file, dataOnly: false);
            ulong[] pages = trace.Addresses.Select(a => a >> 12).ToArray();
            int distinct = pages.Distinct().Count();
            report.AppendLine();
            report.AppendLine($"## {trace.Name}: {trace.Count:N0} accesses, {distinct} distinct pages");
            report.AppendLine();
            report.AppendLine("| organisation | cold misses | warm misses | warm hit rate | warm hits in the first way |");
            report.AppendLine("|---|--:|--:|--:|--:|");
            foreach (Model model in models)
            {
                model.Clear();
                long cold = 0;
                foreach (ulong p in pages) if (model.Access(p) < 0) cold++;
                long warm = 0, first = 0;
                foreach (ulong p in pages)
                {
                    int way = model.Access(p);
                    if (way < 0) warm++;
                    else if (way == 0) first++;
                }
                long hits = pages.Length - warm;
                report.AppendLine($"| {model.Name} | {cold:N0} | {warm:N0} | {100.0 * hits / pages.Length:F4}% | {100.0 * first / Math.Max(hits, 1):F2}% |");
            }
        }
        Console.Write(report.ToString());
        if (args.Length > 0) File.WriteAllText(args[0], report.ToString());
    }
}
