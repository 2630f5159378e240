using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Text;
using CsCheck;
using FastPt.Cli.Commands;
using Xunit;

namespace FastPt.Tests.Cli;

/// <summary>Random command lines from fastpt's grammar — every command, its options with good and bad values in
/// any position, and junk words — must never throw, must end with a documented exit code, and must write no file
/// unless the command succeeded. No check may fail either: every machine the grammar boots is valid, so a FAIL
/// would be a check that lies. <c>FASTPT_CLI_PROPERTY_ITERATIONS</c> runs more command lines than the default.</summary>
[Collection("Serial")]
public sealed class CommandLinePropertyTests : IDisposable
{
    private readonly TemporaryDirectory _directory = new();
    private readonly string _pages;
    private readonly string _gzip;
    private readonly string _binary;
    private readonly string _folder;

    public CommandLinePropertyTests()
    {
        _pages = _directory.File("pages.txt");
        File.WriteAllText(_pages, "# a few pages\n0\n1\n2\n0x200\n513\n");
        _gzip = _directory.File("pages.gz");
        using (FileStream file = File.Create(_gzip))
        using (var gzip = new GZipStream(file, CompressionLevel.Fastest))
        {
            gzip.Write(Encoding.ASCII.GetBytes("7\n8\n9\n"));
        }
        _binary = _directory.File("pages.bin");
        byte[] bytes = new byte[512];
        new Random(3).NextBytes(bytes);
        File.WriteAllBytes(_binary, bytes);
        _folder = _directory.File("folder");
        Directory.CreateDirectory(_folder);
    }

    public void Dispose() => _directory.Dispose();

    /// <summary>An option with a good value three times in four, else a bad one.</summary>
    private static Gen<string[]> Option(string name, string[] good, string[] bad) =>
        Gen.Frequency(new (int, IGen<string>)[] { (3, Gen.OneOf(good)), (1, Gen.OneOf(bad)) }).Select(value => new[] { name, value });

    private static Gen<string[]> Flag(string name) => Gen.Const(new[] { name });

    private static readonly Gen<string[]> Junk = Gen.OneOf(
        "--bogus", "-x", "nosuch", "--", "--", "", " ", "@", "-", "-", "\t", "--memory=1G", "-m", "\0", "—", "--levels=5", "run", "trace", "0x1000", "-5")
        .Select(word => new[] { word });

    private Gen<string[]> Commands()
    {
        Gen<string[]> memory = Option("--memory", ["32M", "64M", "1G", "0x40000000", "2M"], ["abc", "3M", "128T", "", "1.5G"]);
        Gen<string[]> levels = Option("--levels", ["4", "5"], ["6", "x"]);
        Gen<string[]> seed = Option("--seed", ["1", "-5", "12345"], ["many", "99999999999"]);
        Gen<string[]> pages = Option("--pages", [_pages, _gzip, _binary], [_folder, _directory.File("missing.txt"), ""]);
        Gen<string[]> baseAddress = Option("--base", ["0x0", "0x1000", "4G"], ["0x123", "abc", "0x800000000000"]);
        Gen<string[]> va = Option("--va", ["0xffff888000000000+4M", "0x40000000000+1G", "0xff11000000000000+2M"], ["0x1000-abc", "x", "0x2000-0x1000"]);
        Gen<string[]> rows = Option("--rows", ["0", "3", "99999999999"], ["-1", "abc"]);
        Gen<string[]> output = Option("--out", [_directory.File("t.nettrace")], [_folder, _directory.File("no/t.nettrace")]);
        Gen<string[]> meter = Option("--meter-interval", ["0", "0.25"], ["abc", "0.01"]);
        Gen<string[]> svg = Option("--svg", [_directory.File("n.svg")], [_folder, _directory.File("no/m.svg"), "", "/proc/m.svg"]);
        Gen<string[]> space = Option("--space", ["kernel", "user"], ["both", ""]);
        Gen<string> scenario = Gen.OneOf("boot", "paging", "replay-synthetic", "hotplug", "nosuch", "BOOT", "-");

        // (command words, options it takes, and whether it boots a machine: those always get a small --memory somewhere,
        // as the default 64G would make each case take seconds).
        Gen<string[]> runWords = scenario.Array[1, 2].Select(names => new[] { "run" }.Concat(names).ToArray());
        Gen<string[]>[] scenarioOptions = [memory, levels, seed, Flag("--checked"), Flag("--json")];
        var shapes = new (Gen<string[]> Words, Gen<string[]>[] Options, bool Boots)[]
        {
            (Gen.Const(Array.Empty<string>()), scenarioOptions, true),
            (runWords, scenarioOptions, true),
            (Gen.Const(new[] { "scenarios" }), [levels, Flag("--json")], false),
            (Gen.Frequency(new (int, IGen<string[]>)[] { (3, Gen.OneOf(_pages, _gzip, _binary).Select(file => new[] { "replay", "--pages", file })), (1, Gen.Const(new[] { "replay" })) }),
                [pages, baseAddress, levels, memory], true),
            (Gen.Const(new[] { "dump" }), [va, memory, levels, pages, baseAddress, rows], true),
            (Gen.Const(new[] { "map", "--svg", _directory.File("m.svg") }), [va, memory, levels, pages, baseAddress, svg, space], true),
            (Gen.OneOf(_pages, _folder, _directory.File("x.nettrace"), "--json", "--bogus").Select(file => new[] { "trace", "summarize", file }),
                [Flag("--json")], false),
            (Gen.Const(new[] { "frobnicate" }), [memory], false),
        };
        Gen<string[]> plain = Gen.Int[0, shapes.Length - 1].SelectMany(index =>
        {
            (Gen<string[]> words, Gen<string[]>[] options, bool boots) = shapes[index];
            Gen<string[]> anyOption = Gen.Frequency(new (int, IGen<string[]>)[] { (6, Gen.OneOf(options.Cast<IGen<string[]>>().ToArray())), (1, Junk) });
            return Gen.Select(words, anyOption.Array[0, 3], Gen.Int[0, 3], Gen.Int[0, 19], Gen.OneOf("32M", "64M", "1G", "2M"),
                (w, chosen, before, junk, size) =>
                {
                    // Options in every position: some before the command words, the rest after.
                    List<string[]> all = chosen.ToList();
                    if (boots && junk > 0 && !all.Any(option => option[0] == "--memory")) all.Insert(Math.Min(junk % 3, all.Count), ["--memory", size]);
                    int split = Math.Min(before, all.Count);
                    return all.Take(split).SelectMany(o => o).Concat(w).Concat(all.Skip(split).SelectMany(o => o)).ToArray();
                });
        });
        Gen<string[]> record = Gen.Select(plain, Gen.OneOf(new IGen<string[]>[] { output, meter, Junk }).Array[0, 2], Gen.Bool,
            (inner, outer, withOut) =>
            {
                IEnumerable<string> options = outer.SelectMany(o => o);
                // Usually into the test's directory; sometimes the default name in the working directory.
                if (withOut) options = options.Concat(["--out", _directory.File("r.nettrace")]);
                return new[] { "trace", "record" }.Concat(options).Append("--").Concat(inner).ToArray();
            });
        return Gen.Frequency(new (int, IGen<string[]>)[] { (6, plain), (1, record) });
    }

    private static string[] Snapshot(string directory) =>
        Directory.GetFileSystemEntries(directory, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray();

    [Fact]
    public void Random_command_lines_never_crash_exit_with_a_documented_code_and_write_nothing_on_failure()
    {
        int iterations = int.TryParse(Environment.GetEnvironmentVariable("FASTPT_CLI_PROPERTY_ITERATIONS"), out int n) ? n : 60;
        string workingDirectory = Directory.GetCurrentDirectory();
        var exitCodes = new Dictionary<int, int>();
        Commands().Sample(args =>
        {
            string[] before = Snapshot(_directory.Path);
            string[] cwdBefore = Directory.GetFiles(workingDirectory, "*.nettrace");
            CliRunner.Result result = CliRunner.Run(args);
            exitCodes[result.ExitCode] = exitCodes.GetValueOrDefault(result.ExitCode) + 1;
            string[] after = Snapshot(_directory.Path);
            string[] created = Directory.GetFiles(workingDirectory, "*.nettrace").Except(cwdBefore).ToArray();
            try
            {
                Assert.True(result.ExitCode is ExitCodes.Success or ExitCodes.Usage or ExitCodes.BadInput,
                    $"exit code {result.ExitCode}{Environment.NewLine}{result.Output}{result.Error}");
                Assert.DoesNotContain("   at ", result.Error, StringComparison.Ordinal);
                Assert.DoesNotContain(after, path => path.EndsWith(".partial", StringComparison.Ordinal));
                if (result.ExitCode != ExitCodes.Success)
                {
                    Assert.True(before.SequenceEqual(after), "files written on a failed run: " + string.Join(", ", after.Except(before)));
                    Assert.Empty(created);
                    Assert.StartsWith("fastpt: ", result.Error, StringComparison.Ordinal);
                }
            }
            finally
            {
                // A successful trace record leaves its file: clear it so that the next case starts from the same state.
                foreach (string path in after.Except(before)) File.Delete(path);
                foreach (string path in created) File.Delete(path);
            }
        }, iter: iterations, threads: 1, seed: Environment.GetEnvironmentVariable("FASTPT_CLI_PROPERTY_SEED"),
            print: args => string.Join(' ', args.Select(arg => "'" + arg + "'")));
        // The grammar must reach every outcome, or the property says little.
        string seen = string.Join(", ", exitCodes.OrderBy(pair => pair.Key).Select(pair => $"{pair.Key}: {pair.Value}"));
        Assert.True(exitCodes.GetValueOrDefault(ExitCodes.Success) >= iterations / 10, seen);
        Assert.True(exitCodes.GetValueOrDefault(ExitCodes.Usage) >= iterations / 10, seen);
        Assert.True(exitCodes.ContainsKey(ExitCodes.BadInput), seen);
    }
}
