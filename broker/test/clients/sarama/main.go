// Command sarama-client drives Sarama (the Go Kafka client, as Debian packages it) against a
// broker for the integration tests. It is built in GOPATH mode from /usr/share/gocode, offline.
//
//	sarama-client produce -brokers HOST:PORT -topic T [-idempotent] [-compression C]
//	  reads one JSON record a line on stdin, sends them all with a SyncProducer (acks=all) and
//	  prints one JSON line per record, in input order: {"partition":P,"offset":O} or {"error":"..."}.
//
//	sarama-client consume -brokers HOST:PORT -topic T -group G [-max N] [-timeout-ms MS]
//	  joins consumer group G (sarama.NewConsumerGroup), prints every record as a JSON line, marks
//	  it consumed and commits (every CommitInterval and when the session ends). Stops after N
//	  records, after the timeout, or when stdin reaches EOF; then leaves the group cleanly.
//	  Also prints {"type":"assigned",...} when a session starts and {"type":"done",...} at the end.
//
// Keys, values and header values travel base64-encoded (null for a null one), so any byte
// survives the trip. Diagnostics go to stderr.
package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/ioutil"
	"log"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/Shopify/sarama"
)

// version is the newest Kafka version the Sarama that Debian ships knows (1.22.1: V2_2_0_0).
var version = sarama.MaxVersion

// jsonRecord is a record on stdin (produce) and on stdout (consume).
type jsonRecord struct {
	Type      string       `json:"type,omitempty"`
	Topic     string       `json:"topic,omitempty"`
	Partition *int32       `json:"partition,omitempty"`
	Offset    *int64       `json:"offset,omitempty"`
	Key       *string      `json:"key"`
	Value     *string      `json:"value"`
	Headers   [][2]*string `json:"headers"`
	Timestamp *int64       `json:"timestamp,omitempty"`
}

type out struct {
	mu  sync.Mutex
	enc *json.Encoder
	w   *bufio.Writer
}

func (o *out) print(v interface{}) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := o.enc.Encode(v); err != nil {
		log.Fatalf("stdout: %v", err)
	}
	if err := o.w.Flush(); err != nil {
		log.Fatalf("stdout: %v", err)
	}
}

func newOut() *out {
	w := bufio.NewWriter(os.Stdout)
	return &out{enc: json.NewEncoder(w), w: w}
}

func encode(b []byte) *string {
	if b == nil {
		return nil
	}
	s := base64.StdEncoding.EncodeToString(b)
	return &s
}

func decode(s *string) ([]byte, error) {
	if s == nil {
		return nil, nil
	}
	b, err := base64.StdEncoding.DecodeString(*s)
	if err != nil {
		return nil, err
	}
	if b == nil {
		b = []byte{}
	}
	return b, nil
}

func baseConfig(clientID string, verbose bool) *sarama.Config {
	if verbose {
		sarama.Logger = log.New(os.Stderr, "[sarama] ", log.LstdFlags|log.Lmicroseconds)
	}
	config := sarama.NewConfig()
	config.Version = version
	config.ClientID = clientID
	return config
}

// ---------------------------------------------------------------------------------------------
// produce

// explicitPartition marks a message that names its partition (ProducerMessage.Metadata).
type explicitPartition struct{}

// partitioner sends a message that names its partition there and hashes the others with
// Sarama's default partitioner.
type partitioner struct{ hash sarama.Partitioner }

func (p partitioner) Partition(m *sarama.ProducerMessage, n int32) (int32, error) {
	if _, ok := m.Metadata.(explicitPartition); ok {
		return m.Partition, nil
	}
	return p.hash.Partition(m, n)
}

func (p partitioner) RequiresConsistency() bool { return true }

func produce(args []string) error {
	fs := flag.NewFlagSet("produce", flag.ExitOnError)
	brokers := fs.String("brokers", "", "bootstrap brokers, comma-separated")
	topic := fs.String("topic", "", "topic of records that name none")
	idempotent := fs.Bool("idempotent", false, "idempotent producer (Net.MaxOpenRequests=1)")
	compression := fs.String("compression", "none", "none, gzip, snappy, lz4 or zstd")
	verbose := fs.Bool("verbose", false, "Sarama's log on stderr")
	_ = fs.Parse(args)

	config := baseConfig("sarama-producer", *verbose)
	config.Producer.RequiredAcks = sarama.WaitForAll
	config.Producer.Return.Successes = true
	config.Producer.Partitioner = func(topic string) sarama.Partitioner {
		return partitioner{hash: sarama.NewHashPartitioner(topic)}
	}
	if *idempotent {
		config.Producer.Idempotent = true
		config.Net.MaxOpenRequests = 1
	}
	switch *compression {
	case "none":
		config.Producer.Compression = sarama.CompressionNone
	case "gzip":
		config.Producer.Compression = sarama.CompressionGZIP
	case "snappy":
		config.Producer.Compression = sarama.CompressionSnappy
	case "lz4":
		config.Producer.Compression = sarama.CompressionLZ4
	case "zstd":
		config.Producer.Compression = sarama.CompressionZSTD
	default:
		return fmt.Errorf("unknown compression %q", *compression)
	}

	var messages []*sarama.ProducerMessage
	scanner := bufio.NewScanner(os.Stdin)
	scanner.Buffer(make([]byte, 1<<20), 64<<20)
	for scanner.Scan() {
		line := strings.TrimSpace(scanner.Text())
		if line == "" {
			continue
		}
		var r jsonRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return fmt.Errorf("stdin line %d: %v", len(messages)+1, err)
		}
		m := &sarama.ProducerMessage{Topic: *topic}
		if r.Topic != "" {
			m.Topic = r.Topic
		}
		if m.Topic == "" {
			return fmt.Errorf("stdin line %d: no topic", len(messages)+1)
		}
		if r.Partition != nil {
			m.Partition = *r.Partition
			m.Metadata = explicitPartition{}
		}
		key, err := decode(r.Key)
		if err != nil {
			return err
		}
		if key != nil {
			m.Key = sarama.ByteEncoder(key)
		}
		value, err := decode(r.Value)
		if err != nil {
			return err
		}
		if value != nil {
			m.Value = sarama.ByteEncoder(value)
		}
		for _, h := range r.Headers {
			if h[0] == nil {
				return fmt.Errorf("stdin line %d: header without a name", len(messages)+1)
			}
			hv, err := decode(h[1])
			if err != nil {
				return err
			}
			m.Headers = append(m.Headers, sarama.RecordHeader{Key: []byte(*h[0]), Value: hv})
		}
		if r.Timestamp != nil {
			m.Timestamp = time.Unix(0, *r.Timestamp*int64(time.Millisecond))
		}
		messages = append(messages, m)
	}
	if err := scanner.Err(); err != nil {
		return err
	}

	producer, err := sarama.NewSyncProducer(strings.Split(*brokers, ","), config)
	if err != nil {
		return err
	}
	failed := map[*sarama.ProducerMessage]error{}
	if len(messages) > 0 {
		if err := producer.SendMessages(messages); err != nil {
			var errs sarama.ProducerErrors
			if !errors.As(err, &errs) {
				_ = producer.Close()
				return err
			}
			for _, e := range errs {
				failed[e.Msg] = e.Err
			}
		}
	}
	if err := producer.Close(); err != nil {
		return err
	}
	o := newOut()
	for _, m := range messages {
		if err, bad := failed[m]; bad {
			o.print(map[string]interface{}{"error": err.Error()})
			continue
		}
		o.print(map[string]interface{}{"topic": m.Topic, "partition": m.Partition, "offset": m.Offset})
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d records failed", len(failed), len(messages))
	}
	return nil
}

// ---------------------------------------------------------------------------------------------
// consume

type handler struct {
	o      *out
	max    int
	stop   context.CancelFunc
	mu     sync.Mutex
	count  int
	events int
}

func (h *handler) Setup(s sarama.ConsumerGroupSession) error {
	claims := map[string][]int32{}
	for t, ps := range s.Claims() {
		ps = append([]int32(nil), ps...)
		sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
		claims[t] = ps
	}
	h.o.print(map[string]interface{}{
		"type": "assigned", "member": s.MemberID(), "generation": s.GenerationID(), "claims": claims,
	})
	return nil
}

func (h *handler) Cleanup(s sarama.ConsumerGroupSession) error {
	h.o.print(map[string]interface{}{"type": "released", "generation": s.GenerationID()})
	return nil
}

func (h *handler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for m := range c.Messages() {
		h.mu.Lock()
		if h.max > 0 && h.count >= h.max {
			// Past the limit: neither printed nor marked, so a later run reads it.
			h.mu.Unlock()
			return nil
		}
		h.count++
		full := h.max > 0 && h.count >= h.max
		partition, offset := m.Partition, m.Offset
		ts := m.Timestamp.UnixNano() / int64(time.Millisecond)
		r := jsonRecord{
			Type: "record", Topic: m.Topic, Partition: &partition, Offset: &offset,
			Key: encode(m.Key), Value: encode(m.Value), Headers: [][2]*string{}, Timestamp: &ts,
		}
		for _, hd := range m.Headers {
			name := string(hd.Key)
			r.Headers = append(r.Headers, [2]*string{&name, encode(hd.Value)})
		}
		h.o.print(r)
		s.MarkMessage(m, "")
		h.mu.Unlock()
		if full {
			h.stop()
			return nil
		}
	}
	return nil
}

func consume(args []string) error {
	fs := flag.NewFlagSet("consume", flag.ExitOnError)
	brokers := fs.String("brokers", "", "bootstrap brokers, comma-separated")
	topics := fs.String("topic", "", "topics, comma-separated")
	group := fs.String("group", "", "consumer group")
	max := fs.Int("max", 0, "stop after this many records (0: no limit)")
	timeoutMs := fs.Int("timeout-ms", 60000, "stop after this long")
	from := fs.String("from", "oldest", "where a partition without a committed offset starts: oldest or newest")
	clientID := fs.String("client-id", "sarama-consumer", "client.id")
	verbose := fs.Bool("verbose", false, "Sarama's log on stderr")
	_ = fs.Parse(args)

	config := baseConfig(*clientID, *verbose)
	config.Consumer.Return.Errors = true
	switch *from {
	case "oldest":
		config.Consumer.Offsets.Initial = sarama.OffsetOldest
	case "newest":
		config.Consumer.Offsets.Initial = sarama.OffsetNewest
	default:
		return fmt.Errorf("unknown -from %q", *from)
	}

	cg, err := sarama.NewConsumerGroup(strings.Split(*brokers, ","), *group, config)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(*timeoutMs)*time.Millisecond)
	defer cancel()
	o := newOut()
	h := &handler{o: o, max: *max, stop: cancel}

	// The test ends a member by closing its stdin.
	go func() {
		_, _ = io.Copy(ioutil.Discard, os.Stdin)
		cancel()
	}()
	go func() {
		for err := range cg.Errors() {
			log.Printf("consumer group error: %v", err)
		}
	}()

	var consumeErr error
	for ctx.Err() == nil {
		// Returns when the session ends (a rebalance or ctx): its offsets are committed by then.
		if err := cg.Consume(ctx, strings.Split(*topics, ","), h); err != nil {
			if ctx.Err() == nil {
				consumeErr = err
			}
			break
		}
	}
	closeErr := cg.Close()
	h.mu.Lock()
	count := h.count
	h.mu.Unlock()
	o.print(map[string]interface{}{"type": "done", "count": count, "timedOut": errors.Is(ctx.Err(), context.DeadlineExceeded)})
	if consumeErr != nil {
		return consumeErr
	}
	return closeErr
}

func main() {
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	log.SetPrefix("sarama-client: ")
	if len(os.Args) < 2 {
		log.Fatal("usage: sarama-client produce|consume|version [flags]")
	}
	var err error
	switch os.Args[1] {
	case "produce":
		err = produce(os.Args[2:])
	case "consume":
		err = consume(os.Args[2:])
	case "version":
		fmt.Println(version.String())
	default:
		err = fmt.Errorf("unknown subcommand %q", os.Args[1])
	}
	if err != nil {
		log.Fatal(err)
	}
}
