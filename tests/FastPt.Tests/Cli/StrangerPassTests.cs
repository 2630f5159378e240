using System;
using System.Diagnostics;
using System.IO;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using FastPt.Cli.Commands;
using Xunit;

namespace FastPt.Tests.Cli;

/// <summary>Defects found by trying the CLI as a stranger would (every command, odd sizes, odd files, terminals and
/// pipes); each test failed on the code before its fix.</summary>
public sealed class StrangerPassTests
{
    // ---- --json writes a document and nothing else

    /// <summary>On a terminal the boot progress and the reading spinner went to standard output before the document:
    /// <c>fastpt kpageflags --json</c> in a terminal (or under <c>script</c>) was not JSON.</summary>
    [Theory]
    [InlineData("kpageflags", "--memory", "1G", "--pages-2m", "1", "--json")]
    [InlineData("pagemap", "--memory", "1G", "--pages-2m", "1", "--json")]
    [InlineData("--json", "kpageflags", "--memory", "1G", "0x1000+16")]
    public void Json_on_a_terminal_is_the_document_alone(params string[] args)
    {
        CliRunner.Result result = CliRunner.RunOn(80, true, args);
        Assert.True(result.ExitCode == ExitCodes.Success, result.Output + result.Error);
        Assert.DoesNotContain('\u001b', result.Output);
        using JsonDocument document = JsonDocument.Parse(result.Output);
        Assert.True(document.RootElement.GetProperty("memoryBytes").GetInt64() > 0);
    }

    /// <summary><c>trace record -- run boot --json</c> wrote the recorded command's JSON and then the trace report
    /// on standard output, so the output of a JSON command was no longer JSON.</summary>
    [Fact]
    public void Recording_a_json_command_keeps_standard_output_json()
    {
        using var directory = new TemporaryDirectory();
        string trace = directory.File("boot.nettrace");
        CliRunner.Result result = CliRunner.Run("trace", "record", "--out", trace, "--", "run", "boot", "--memory", "1G", "--json");
        Assert.True(result.ExitCode == ExitCodes.Success, result.Output + result.Error);
        using JsonDocument document = JsonDocument.Parse(result.Output);
        Assert.True(document.RootElement.GetProperty("passed").GetBoolean());
        Assert.Contains("fastpt trace summarize", result.Error, StringComparison.Ordinal);
        Assert.True(new FileInfo(trace).Length > 0);
    }

    // ---- terminals

    /// <summary>The loop's progress line was padded to 100 columns: on an 80-column terminal every "\r" update
    /// wrapped and left a row behind.</summary>
    [Fact]
    public void The_loop_progress_line_stays_on_one_row_of_an_80_column_terminal()
    {
        CliRunner.Result result = CliRunner.RunOn(80, true, "run", "boot", "--memory", "1G", "--repeat", "2");
        Assert.True(result.ExitCode == ExitCodes.Success, result.Output + result.Error);
        string[] updates = result.Error.Split('\r', '\n');
        Assert.Contains(updates, update => update.StartsWith("fastpt: round 2 of 2", StringComparison.Ordinal));
        Assert.All(updates, update => Assert.True(update.Length < 80, $"{update.Length} columns: {update}"));
    }

    // ---- output files that are links or devices

    /// <summary><c>--svg</c> naming a link was renamed over: the link became a regular file (and, as root, a link to
    /// /dev/null or /dev/null itself would have been replaced by the picture for every program on the machine).</summary>
    [Fact]
    public void A_picture_written_through_links_keeps_the_links_and_never_replaces_a_device()
    {
        using var directory = new TemporaryDirectory();
        string real = directory.File("real.svg");
        File.WriteAllText(real, "old");
        string toFile = directory.File("to-file.svg");
        string toDevice = directory.File("to-null.svg");
        File.CreateSymbolicLink(toFile, real);
        File.CreateSymbolicLink(toDevice, "/dev/null");

        CliRunner.Result viaFile = CliRunner.Run("map", "--svg", toFile, "--memory", "1G");
        Assert.True(viaFile.ExitCode == ExitCodes.Success, viaFile.Output + viaFile.Error);
        Assert.Equal(real, new FileInfo(toFile).LinkTarget);
        Assert.Contains("<svg", File.ReadAllText(real), StringComparison.Ordinal);

        CliRunner.Result viaDevice = CliRunner.Run("map", "--svg", toDevice, "--memory", "1G");
        Assert.True(viaDevice.ExitCode == ExitCodes.Success, viaDevice.Output + viaDevice.Error);
        Assert.Equal("/dev/null", new FileInfo(toDevice).LinkTarget);
        Assert.Equal(0, new FileInfo("/dev/null").Length);
        // No temporary left, beside the link or in the temp directory.
        Assert.Equal(3, Directory.GetFileSystemEntries(directory.Path).Length);
        Assert.Empty(Directory.GetFiles(Path.GetTempPath(), ".null.*.partial"));
    }

    /// <summary><c>trace record --out</c> through a link to /dev/null: the trace is recorded and summarised, the
    /// link stays a link.</summary>
    [Fact]
    public void A_trace_recorded_into_a_link_to_dev_null_is_summarised_and_the_link_stays()
    {
        using var directory = new TemporaryDirectory();
        string link = directory.File("discard.nettrace");
        File.CreateSymbolicLink(link, "/dev/null");
        CliRunner.Result result = CliRunner.Run("trace", "record", "--out", link, "--", "run", "boot", "--memory", "1G");
        Assert.True(result.ExitCode == ExitCodes.Success, result.Output + result.Error);
        Assert.Equal("/dev/null", new FileInfo(link).LinkTarget);
        Assert.Contains("bytes into", result.Output, StringComparison.Ordinal);
        // Nothing to summarise later, so no hint to: the summary is printed now.
        Assert.DoesNotContain("fastpt trace summarize", result.Output, StringComparison.Ordinal);
        Assert.Contains("page-table", result.Output, StringComparison.OrdinalIgnoreCase);
        Assert.Single(Directory.GetFileSystemEntries(directory.Path));
    }

    // ---- input files that are pipes

    /// <summary>A page file or lackey trace read from a pipe (<c>--pages &lt;(zcat pages.gz)</c>,
    /// <c>--lackey /dev/stdin</c>) crashed with a stack trace: recognising gzip seeked back to the start.</summary>
    [Theory]
    [InlineData("replay", "--pages", false)]
    [InlineData("replay", "--pages", true)]
    [InlineData("replay", "--lackey", false)]
    [InlineData("replay", "--lackey", true)]
    public async Task An_input_file_may_be_a_pipe_plain_or_gzip(string command, string option, bool gzip)
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "makes a FIFO with mkfifo(1)");
        CancellationToken cancel = TestContext.Current.CancellationToken;
        using var directory = new TemporaryDirectory();
        string fifo = directory.File("input");
        using (Process mkfifo = Process.Start("mkfifo", [fifo])) await mkfifo.WaitForExitAsync(cancel);
        string text = option == "--pages" ? "0\n1\n0x200\n" : "I  04000000,3\n L 04001000,8\n S 04002000,4\n";
        byte[] content = Encoding.ASCII.GetBytes(text);
        if (gzip)
        {
            using var compressed = new MemoryStream();
            using (var zip = new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true)) zip.Write(content);
            content = compressed.ToArray();
        }
        Task writer = Task.Run(() =>
        {
            using var pipe = new FileStream(fifo, FileMode.Open, FileAccess.Write);
            pipe.Write(content);
        }, cancel);
        CliRunner.Result result;
        try
        {
            result = await Task.Run(() => CliRunner.Run(command, option, fifo, "--memory", "1G"), cancel);
        }
        finally
        {
            // If the command never opened the FIFO, the writer waits for a reader: be that reader.
            if (await Task.WhenAny(writer, Task.Delay(100, cancel)) != writer)
            {
                using var drain = new FileStream(fifo, FileMode.Open, FileAccess.Read);
                await drain.CopyToAsync(Stream.Null, cancel);
            }
            await writer.WaitAsync(TimeSpan.FromSeconds(30), cancel);
        }
        Assert.True(result.ExitCode == ExitCodes.Success, result.Output + result.Error);
        Assert.Contains(option == "--pages" ? "distinct pages" : "accesses", result.Output, StringComparison.Ordinal);
        Assert.Contains("VmPTE:", result.Output, StringComparison.Ordinal);
    }

    /// <summary>A page file line had no length limit: <c>--pages /dev/zero</c> read NULs into one line until memory
    /// ran out, and a file without line breaks was read whole before its first line was judged.</summary>
    [Fact(Timeout = 60_000)]
    public async Task A_page_file_without_line_breaks_is_refused_at_its_first_4096_characters()
    {
        Assert.SkipUnless(File.Exists("/dev/zero"), "reads /dev/zero");
        CliRunner.Result zeros = await Task.Run(() => CliRunner.Run("replay", "--pages", "/dev/zero", "--memory", "1G"), TestContext.Current.CancellationToken);
        Assert.Equal(ExitCodes.BadInput, zeros.ExitCode);
        Assert.Contains("/dev/zero:1: this is not text: the file looks binary", zeros.Error, StringComparison.Ordinal);

        using var directory = new TemporaryDirectory();
        string digits = directory.File("digits.txt");
        File.WriteAllText(digits, new string('1', 1 << 20));
        CliRunner.Result result = CliRunner.Run("replay", "--pages", digits, "--memory", "1G");
        Assert.Equal(ExitCodes.BadInput, result.ExitCode);
        Assert.Contains(":1: '1111", result.Error, StringComparison.Ordinal);
        Assert.Contains("is not a page index: the line is longer than 4,096 characters", result.Error, StringComparison.Ordinal);
    }

    // ---- messages

    /// <summary>--duration echoed its text raw: an escape sequence in it reached the terminal.</summary>
    [Theory]
    [InlineData("\u001b[2J")]
    [InlineData("5\u001b[2J")]
    [InlineData("0\u001b")]
    public void A_bad_duration_is_quoted_with_its_control_characters_escaped(string duration)
    {
        CliRunner.Result result = CliRunner.Run("run", "boot", "--duration", duration);
        CommandLineTests.AssertUsageError(result, "--duration: ");
        Assert.Contains("\\x1b", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain('\u001b', result.Error);
    }

    /// <summary>--levels, --design, --pattern and --space refused a word in System.CommandLine's three lines
    /// ("Argument '6' not recognized. Must be one of:" and a line per word), naming no option.</summary>
    [Theory]
    [InlineData("--levels: '6' is not one of 4, 5", "run", "boot", "--levels", "6")]
    [InlineData("--levels: 'abc' is not one of 4, 5", "--levels", "abc", "dump")]
    [InlineData("--design: '7x' is not one of 6x, shared", "hugetlb", "--design", "7x")]
    [InlineData("--pattern: 'sparse' is not one of dense, stride2m, stride1g, random", "kernel-check", "--pattern", "sparse")]
    [InlineData("--space: 'both' is not one of user, kernel", "map", "--svg", "x.svg", "--space", "both")]
    public void A_word_outside_an_options_choices_is_one_line_naming_the_option(string expected, params string[] args)
    {
        CliRunner.Result result = CliRunner.Run(args);
        CommandLineTests.AssertUsageError(result, expected);
        string[] lines = result.Error.TrimEnd().Split('\n');
        Assert.Equal(2, lines.Length);   // the error, then the pointer to --help
        Assert.DoesNotContain("System.", result.Error, StringComparison.Ordinal);
    }

    /// <summary>A binary file given as a lackey trace was refused with 80 of its bytes escaped (a 300-character line)
    /// and the advice to skip bad lines.</summary>
    [Fact]
    public void A_binary_file_given_as_a_lackey_trace_is_called_binary_in_one_short_line()
    {
        using var directory = new TemporaryDirectory();
        string binary = directory.File("a.out");
        byte[] bytes = new byte[4000];
        new Random(7).NextBytes(bytes);
        "\u007fELF\u0002\u0001\u0001\u0000"u8.CopyTo(bytes);
        File.WriteAllBytes(binary, bytes);
        CliRunner.Result result = CliRunner.Run("replay", "--lackey", binary, "--memory", "1G");
        Assert.Equal(ExitCodes.BadInput, result.ExitCode);
        Assert.Contains(":1: this is not text: the file looks binary, not a lackey trace", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("--skip-bad", result.Error, StringComparison.Ordinal);
        Assert.True(result.Error.Length < 200, result.Error);
    }

    /// <summary>An empty file (or /dev/null) given to trace summarize was called "truncated: it ends in the middle of
    /// a block (Read past end of stream.)".</summary>
    [Fact]
    public void An_empty_trace_file_is_called_empty()
    {
        using var directory = new TemporaryDirectory();
        string empty = directory.File("empty.nettrace");
        File.WriteAllBytes(empty, []);
        foreach (string path in new[] { empty, "/dev/null" })
        {
            if (!File.Exists(path)) continue;
            CliRunner.Result result = CliRunner.Run("trace", "summarize", path);
            Assert.Equal(ExitCodes.BadInput, result.ExitCode);
            Assert.Contains("the file is empty (0 bytes)", result.Error, StringComparison.Ordinal);
            Assert.DoesNotContain("middle of a block", result.Error, StringComparison.Ordinal);
        }
    }

    /// <summary>"Required command was not provided." and "Required argument missing for command: 'run'." said
    /// neither which command nor what it needs.</summary>
    [Theory]
    [InlineData("'fastpt trace' needs a command: record or summarize (see 'fastpt trace --help')", "trace")]
    [InlineData("'fastpt run' needs <scenario> (see 'fastpt run --help')", "run")]
    [InlineData("'fastpt trace summarize' needs <file> (see 'fastpt trace summarize --help')", "trace", "summarize")]
    public void A_missing_command_or_argument_is_named(string expected, params string[] args) =>
        CommandLineTests.AssertUsageError(CliRunner.Run(args), expected);

    /// <summary>"1.5G" was refused as "an unknown unit '.5G'"; the message now says sizes are whole and what to
    /// write.</summary>
    [Theory]
    [InlineData("'1.5G' is not a whole number: sizes are whole numbers of a unit, write 1536M", "run", "boot", "--memory", "1.5G")]
    [InlineData("'0.5T' is not a whole number: sizes are whole numbers of a unit, write 512G", "dump", "--va", "0x1000+0.5T")]
    [InlineData("'1.1G' is not a whole number: sizes are whole numbers of a unit (K, M", "run", "boot", "--memory", "1.1G")]
    public void A_fractional_size_says_sizes_are_whole_and_what_to_write(string expected, params string[] args)
    {
        CliRunner.Result result = CliRunner.Run(args);
        CommandLineTests.AssertUsageError(result, expected);
        Assert.DoesNotContain("unknown unit", result.Error, StringComparison.Ordinal);
    }

    /// <summary>Counts without a parser of their own were refused in System.CommandLine's words: "Cannot parse
    /// argument 'abc' for option '--pages-2m' as expected type 'System.Int64'".</summary>
    [Theory]
    [InlineData("--pages-2m: 'abc' is not a whole number", "kpageflags", "--pages-2m", "abc")]
    [InlineData("--pages-1g: '1.5' is not a whole number", "pagemap", "--pages-1g=1.5")]
    [InlineData("--pages-2m: '99999999999999999999' is out of range", "hugetlb", "--pages-2m", "99999999999999999999")]
    [InlineData("--repeat: 'many' is not a whole number", "run", "boot", "--repeat", "many")]
    [InlineData("--repeat: '0' is out of range", "run", "boot", "--repeat", "0")]
    [InlineData("--count: 'ten' is not a whole number", "kernel-check", "--count", "ten")]
    [InlineData("--seed: 'x' is not a whole number", "kernel-check", "--pattern", "random", "--seed", "x")]
    [InlineData("--pages-1g: '' is not a whole number", "kernel-check", "--hugetlb", "--pages-1g", "")]
    public void A_count_that_is_not_a_whole_number_is_named_in_plain_words(string expected, params string[] args)
    {
        CliRunner.Result result = CliRunner.Run(args);
        CommandLineTests.AssertUsageError(result, expected);
        Assert.DoesNotContain("System.", result.Error, StringComparison.Ordinal);
        Assert.Equal("", result.Output);
    }

    /// <summary>A pagemap range that ends at 2^64 (its end reads 0) passed the user-range check and was refused as
    /// "18,442,240,474,082,181,121 pages".</summary>
    [Theory]
    [InlineData("0xfffffffffffff000+4K")]
    [InlineData("0xffff800000000000+0x800000000000")]
    public void A_pagemap_range_to_the_top_of_the_address_space_leaves_the_user_range(string range)
    {
        CliRunner.Result result = CliRunner.Run("pagemap", "--memory", "1G", range);
        CommandLineTests.AssertUsageError(result, "leaves the user range");
        Assert.DoesNotContain("pages;", result.Error, StringComparison.Ordinal);
    }

    /// <summary><c>fastpt hugetlb -m 1G</c> failed 7 of 18 checks: the default 512 × 2 MiB and 2 × 1 GiB do not fit
    /// in 1 GiB, the warm-up kept the folios of its short grow, and every check after it compared against the count
    /// asked for. Defaults now fit the machine; a count given that the pool cannot reach is "could not run", exit 3.</summary>
    [Fact]
    public void Hugetlb_on_a_small_machine_fits_its_defaults_and_refuses_a_count_it_cannot_hold()
    {
        CliRunner.Result fitted = CliRunner.Run("hugetlb", "-m", "1G");
        Assert.True(fitted.ExitCode == 0, fitted.Output + fitted.Error);
        Assert.DoesNotContain("FAIL", fitted.Output, StringComparison.Ordinal);

        CliRunner.Result held = CliRunner.Run("hugetlb", "--pages-1g", "100", "-m", "1G");
        Assert.Equal(3, held.ExitCode);
        Assert.Contains("100 × 1G folios asked for, the pool reached 0", held.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("FAIL", held.Output, StringComparison.Ordinal);
    }
}
