package dev.lamina.tokenizer;

import java.util.List;

/**
 * A post-processor of Hugging Face's tokenizer.json ({@code "post_processor"}), for single
 * sequences: adds the special tokens a model expects around the text's ids (Llama's bos).
 */
sealed interface PostProcessor {

    int[] process(int[] ids);

    /** One item of a template: the sequence's ids (ids null) or fixed special token ids. */
    record Item(int[] ids) {
        static final Item SEQUENCE = new Item(null);
    }

    /** TemplateProcessing's "single" template (also Bert's and Roberta's [CLS] A [SEP]). */
    record Template(List<Item> single) implements PostProcessor {
        public Template { single = List.copyOf(single); }

        @Override public int[] process(int[] ids) {
            IntList out = new IntList(ids.length + 4);
            for (Item it : single) out.addAll(it.ids() == null ? ids : it.ids());
            return out.toArray();
        }
    }

    /** Post-processors that leave ids alone (ByteLevel's only trims offsets). */
    record Identity() implements PostProcessor {
        @Override public int[] process(int[] ids) { return ids; }
    }

    /** Each post-processor in order. */
    record Sequence(List<PostProcessor> steps) implements PostProcessor {
        public Sequence { steps = List.copyOf(steps); }

        @Override public int[] process(int[] ids) {
            for (PostProcessor p : steps) ids = p.process(ids);
            return ids;
        }
    }
}
