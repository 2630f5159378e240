using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.IO.Compression;

namespace FastPt.Benchmarks.Traces;

/// <summary>The memory accesses of a real program as valgrind's lackey tool records them
/// (<c>valgrind --tool=lackey --trace-mem=yes prog</c>): one line per access, <c>I  addr,size</c> for an
/// instruction fetch, <c> L</c>, <c> S</c> and <c> M</c> (load, store, modify) for data, addresses in hex; lines
/// starting with <c>==</c> are valgrind's own. Read from plain text or gzip (<c>.gz</c>).</summary>
internal sealed class LackeyTrace
{
    private LackeyTrace(string name, ulong[] addresses, AccessKind[] kinds)
    {
        Name = name;
        Addresses = addresses;
        Kinds = kinds;
    }

    /// <summary>The file name without its extensions.</summary>
    public string Name { get; }

    /// <summary>The accessed addresses, in program order.</summary>
    public ulong[] Addresses { get; }

    /// <summary>What each access is: <see cref="AccessKind.Execute"/> for a fetch, <see cref="AccessKind.Read"/>
    /// for a load, <see cref="AccessKind.Write"/> for a store or a modify (a modify needs write access).</summary>
    public AccessKind[] Kinds { get; }

    /// <summary>Number of accesses.</summary>
    public int Count => Addresses.Length;

    /// <summary>Reads <paramref name="path"/>; with <paramref name="dataOnly"/>, instruction fetches are left out
    /// (a soft MMU translates fetches per translated block, not per instruction).</summary>
    public static LackeyTrace Read(string path, bool dataOnly)
    {
        using Stream file = File.OpenRead(path);
        using Stream input = path.EndsWith(".gz", StringComparison.Ordinal) ? new GZipStream(file, CompressionMode.Decompress) : file;
        using var reader = new StreamReader(input);
        var addresses = new List<ulong>();
        var kinds = new List<AccessKind>();
        int lineNumber = 0;
        for (string? line = reader.ReadLine(); line is not null; line = reader.ReadLine())
        {
            lineNumber++;
            if (line.Length < 4 || line.StartsWith("==", StringComparison.Ordinal)) continue;
            AccessKind kind;
            if (line[0] == 'I') kind = AccessKind.Execute;
            else if (line[0] == ' ' && line[1] == 'L') kind = AccessKind.Read;
            else if (line[0] == ' ' && (line[1] == 'S' || line[1] == 'M')) kind = AccessKind.Write;
            else throw new InvalidDataException($"{path}:{lineNumber}: not a lackey access line: '{line}'");
            if (dataOnly && kind == AccessKind.Execute) continue;
            ReadOnlySpan<char> rest = line.AsSpan(2).TrimStart();
            int comma = rest.IndexOf(',');
            if (comma <= 0 || !ulong.TryParse(rest[..comma], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong address))
                throw new InvalidDataException($"{path}:{lineNumber}: no hexadecimal address in '{line}'");
            addresses.Add(address);
            kinds.Add(kind);
        }
        if (addresses.Count == 0) throw new InvalidDataException($"{path}: no accesses");
        return new LackeyTrace(NameOf(path), addresses.ToArray(), kinds.ToArray());
    }

    /// <summary>The name of the trace in <paramref name="path"/>: the file name up to its first dot.</summary>
    public static string NameOf(string path)
    {
        string name = Path.GetFileName(path);
        int dot = name.IndexOf('.', StringComparison.Ordinal);
        return dot > 0 ? name[..dot] : name;
    }

    /// <summary>The distinct 4 KiB pages the trace touches, sorted, each with the strongest access it needs
    /// (write over execute over read).</summary>
    public SortedDictionary<ulong, AccessKind> Pages()
    {
        var pages = new SortedDictionary<ulong, AccessKind>();
        for (int i = 0; i < Addresses.Length; i++)
        {
            ulong page = Addresses[i] & ~4095UL;
            AccessKind kind = Kinds[i];
            if (!pages.TryGetValue(page, out AccessKind seen) || Rank(kind) > Rank(seen)) pages[page] = kind;
        }
        return pages;
    }

    private static int Rank(AccessKind kind) => kind switch
    {
        AccessKind.Write => 2,
        AccessKind.Execute => 1,
        _ => 0,
    };

    /// <summary>Trace files under <c>bench/traces/</c> (found upwards from the running binary, as BenchmarkDotNet
    /// runs a generated project below the benchmark's bin folder) or the folder <c>FASTPT_TRACES</c> names.</summary>
    public static string[] Find()
    {
        string? configured = Environment.GetEnvironmentVariable("FASTPT_TRACES");
        string? folder = null;
        if (!string.IsNullOrEmpty(configured)) folder = configured;
        else
        {
            for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null && folder is null; d = d.Parent)
            {
                string candidate = Path.Combine(d.FullName, "bench", "traces");
                if (Directory.Exists(candidate)) folder = candidate;
            }
        }
        string[] files = folder is null ? [] : Directory.GetFiles(folder, "*.lackey.gz");
        Array.Sort(files, StringComparer.Ordinal);
        return files;
    }
}
